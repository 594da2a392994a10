#include "pooler/errors.hpp"

#include <caf/message.hpp>
#include <caf/make_message.hpp>

namespace pooler {

std::string to_string(errc x) {
  switch (x) {
    case errc::no_members: return "no_members";
    case errc::pool_not_found: return "pool_not_found";
    case errc::pool_exists: return "pool_exists";
    case errc::invalid_config: return "invalid_config";
    case errc::unsupported_change: return "unsupported_change";
    case errc::not_enough_free_members: return "not_enough_free_members";
    case errc::not_a_member: return "not_a_member";
    case errc::start_failed: return "start_failed";
    case errc::already_present: return "already_present";
    case errc::already_started: return "already_started";
    case errc::running: return "running";
    case errc::not_found: return "not_found";
    case errc::simple_one_for_one: return "simple_one_for_one";
    case errc::group_not_found: return "group_not_found";
    case errc::call_failed: return "call_failed";
    case errc::call_timeout: return "call_timeout";
    case errc::bad_request: return "bad_request";
    case errc::bad_reply: return "bad_reply";
    case errc::process_failed: return "process_failed";
    case errc::not_local: return "not_local";
    case errc::invalid_argument: return "invalid_argument";
    case errc::app_stopped: return "app_stopped";
    case errc::function_threw: return "function_threw";
  }
  return "unknown_pooler_error";
}

caf::error make_error(errc x) {
  return {static_cast<uint8_t>(x), error_category};
}

caf::error make_error(errc x, std::string subject, std::string detail) {
  return {static_cast<uint8_t>(x), error_category,
          caf::make_message(std::move(subject), std::move(detail))};
}

namespace {

// The context is (subject, detail) when made by make_error above.
std::string context_string(const caf::message& ctx, size_t pos) {
  if (ctx.size() == 2 && ctx.match_element<std::string>(pos))
    return ctx.get_as<std::string>(pos);
  return {};
}

} // namespace

std::string render_error(uint8_t code, caf::atom_value,
                         const caf::message& context) {
  std::string out = "pooler_error(";
  out += to_string(static_cast<errc>(code));
  auto subject = context_string(context, 0);
  auto detail = context_string(context, 1);
  if (!subject.empty()) {
    out += ", \"";
    out += subject;
    out += '"';
  }
  if (!detail.empty()) {
    out += ": ";
    out += detail;
  }
  out += ')';
  return out;
}

std::string error_subject(const caf::error& err) {
  return err.category() == error_category ? context_string(err.context(), 0)
                                          : std::string{};
}

std::string error_detail(const caf::error& err) {
  return err.category() == error_category ? context_string(err.context(), 1)
                                          : std::string{};
}

} // namespace pooler
