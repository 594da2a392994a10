// The external-process member. The actor never blocks: the
// child's stdout is read by the process's owner thread (src/process.hpp),
// which sends every line here as a message; writes never block either.
// Requests are matched to reply lines by a monotonically increasing id.

#include "pooler/process_member.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include <caf/actor_cast.hpp>
#include <caf/actor_config.hpp>
#include <caf/actor_factory.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/execution_unit.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/make_message.hpp>
#include <caf/response_promise.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/type_id.hpp>

#include <nlohmann/json.hpp>

#include "pooler/errors.hpp"
#include "src/log.hpp"
#include "src/process.hpp"

namespace pooler {

namespace {

using json = nlohmann::json;

// Internal messages: from the owner thread and from the member's timers.
using line_atom = caf::atom_constant<caf::atom("proc_line")>;
using exited_atom = caf::atom_constant<caf::atom("proc_exit")>;
using timeout_atom = caf::atom_constant<caf::atom("proc_tmo")>;

enum class request_kind { call, ping, startup_ping };

struct pending_request {
  request_kind kind;
  std::string command;
  caf::timespan timeout;
  caf::response_promise promise; ///< unset for the startup ping
};

// -- reply lines ------------------------------------------------------------

std::string excerpt(const std::string& line) {
  constexpr size_t max_len = 120;
  return line.size() <= max_len ? line : line.substr(0, max_len) + "...";
}

// The id of a line that is not JSON (e.g. a reply cut short), so that the
// request it belongs to fails at once instead of timing out.
std::optional<uint64_t> find_id(const std::string& line) {
  auto pos = line.find("\"id\"");
  if (pos == std::string::npos)
    return std::nullopt;
  pos = line.find_first_not_of(" \t", pos + 4);
  if (pos == std::string::npos || line[pos] != ':')
    return std::nullopt;
  pos = line.find_first_not_of(" \t", pos + 1);
  if (pos == std::string::npos || line[pos] < '0' || line[pos] > '9')
    return std::nullopt;
  uint64_t id = 0;
  for (; pos < line.size() && line[pos] >= '0' && line[pos] <= '9'; ++pos)
    id = id * 10 + static_cast<uint64_t>(line[pos] - '0');
  return id;
}

std::optional<uint64_t> reply_id(const json& reply) {
  if (!reply.is_object())
    return std::nullopt;
  auto id = reply.find("id");
  if (id == reply.end() || !id->is_number_unsigned())
    return std::nullopt;
  return id->get<uint64_t>();
}

std::string dump(const json& x) {
  // `replace`: a process writing invalid UTF-8 must not make dump() throw.
  return x.dump(-1, ' ', false, json::error_handler_t::replace);
}

// The result of a reply for `command`: its "result" as JSON text, or the
// error it carries.
caf::expected<std::string> decode_reply(const json& reply,
                                        const std::string& command,
                                        const std::string& line) {
  auto ok = reply.find("ok");
  if (ok == reply.end() || !ok->is_boolean())
    return make_error(errc::bad_reply, command,
                      "no boolean \"ok\": " + excerpt(line));
  if (ok->get<bool>()) {
    auto result = reply.find("result");
    return result == reply.end() ? std::string{"null"} : dump(*result);
  }
  auto err = reply.find("error");
  auto text = err == reply.end()   ? std::string{"(no error text)"}
              : err->is_string() ? err->get<std::string>()
                                 : dump(*err);
  return make_error(errc::call_failed, command, std::move(text));
}

std::optional<std::string> encode_request(uint64_t id,
                                          const std::string& command,
                                          const std::string& args_json) {
  auto args = args_json.empty() ? json(nullptr)
                                : json::parse(args_json, nullptr, false);
  if (args.is_discarded())
    return std::nullopt;
  json request{{"id", id}, {"command", command}, {"args", std::move(args)}};
  return dump(request);
}

// -- the member ---------------------------------------------------------------

struct process_member_state {
  static inline const char* name = "pooler_process_member";

  caf::event_based_actor* self = nullptr;
  std::shared_ptr<detail::process> proc;
  process_spec spec;
  uint64_t next_id = 1;
  std::unordered_map<uint64_t, pending_request> pending;
  process_stats stats;
  bool stopping = false;

  process_member_state() = default;
  process_member_state(const process_member_state&) = delete;
  process_member_state& operator=(const process_member_state&) = delete;

  // Runs on every exit path, exit_reason::kill included: stops the process
  // (without blocking) and answers whoever still waits.
  ~process_member_state() {
    if (proc)
      proc->stop();
    fail_all(make_error(errc::process_failed, program(), "member exited"));
  }

  // Empty when the behavior never ran (the state is destroyed anyway).
  std::string program() const {
    return spec.argv.empty() ? std::string{} : spec.argv.front();
  }

  void start(caf::event_based_actor* s, std::shared_ptr<detail::process> p,
             process_spec sp) {
    self = s;
    proc = std::move(p);
    spec = std::move(sp);
    stats.pid = proc->pid();
    stats.started_at = stats.last_activity = caf::make_timestamp();
    proc->attach(make_events());
    if (spec.ping_on_start)
      submit(request_kind::startup_ping, "ping", "", spec.ping_timeout);
  }

  // The owner thread holds a weak reference only: it must not keep the
  // member alive, and it sends nothing once the member is gone.
  detail::process_events make_events() {
    caf::weak_actor_ptr weak{self->ctrl()};
    detail::process_events ev;
    ev.on_line = [weak](std::string line, bool truncated) {
      if (auto strong = weak.lock())
        caf::anon_send(caf::actor_cast<caf::actor>(strong), line_atom::value,
                       std::move(line), truncated);
    };
    ev.on_exit = [weak](std::string how) {
      if (auto strong = weak.lock())
        caf::anon_send(caf::actor_cast<caf::actor>(strong),
                       exited_atom::value, std::move(how));
    };
    return ev;
  }

  caf::response_promise submit(request_kind kind, const std::string& command,
                               const std::string& args_json,
                               caf::timespan timeout) {
    caf::response_promise rp;
    if (kind != request_kind::startup_ping)
      rp = self->make_response_promise();
    auto id = next_id++;
    auto line = encode_request(id, command, args_json);
    if (!line) {
      ++stats.errors;
      rp.deliver(make_error(errc::bad_request, command,
                            "args are not JSON: " + excerpt(args_json)));
      return rp;
    }
    pending.emplace(id, pending_request{kind, command, timeout, rp});
    std::string error;
    if (!proc->write_line(*line, error)) {
      // The owner thread reports the process's end; fail this one now.
      complete(id, make_error(errc::process_failed, program(), error));
      return rp;
    }
    self->delayed_send(self, timeout, timeout_atom::value, id);
    return rp;
  }

  void complete(uint64_t id, caf::expected<std::string> result) {
    auto i = pending.find(id);
    if (i == pending.end())
      return;
    auto req = std::move(i->second);
    pending.erase(i);
    if (!result)
      ++stats.errors;
    switch (req.kind) {
      case request_kind::call:
        req.promise.deliver(std::move(result));
        break;
      case request_kind::ping:
        if (result)
          req.promise.deliver(caf::ok_atom::value);
        else
          req.promise.deliver(std::move(result.error()));
        break;
      case request_kind::startup_ping:
        if (!result)
          shut_down(make_error(errc::process_failed, program(),
                               "startup ping failed: "
                                 + describe(result.error())));
        break;
    }
  }

  void on_line(const std::string& line, bool truncated) {
    stats.last_activity = caf::make_timestamp();
    if (truncated) {
      fail_line(find_id(line), line,
                "reply longer than " + std::to_string(spec.max_line_length)
                  + " bytes");
      return;
    }
    auto reply = json::parse(line, nullptr, false);
    if (reply.is_discarded()) {
      fail_line(find_id(line), line, "not JSON: " + excerpt(line));
      return;
    }
    auto id = reply_id(reply);
    auto i = id ? pending.find(*id) : pending.end();
    if (i == pending.end()) {
      ignore(line);
      return;
    }
    if (i->second.kind == request_kind::call)
      ++stats.requests_handled;
    complete(*id, decode_reply(reply, i->second.command, line));
  }

  // A malformed line fails the request it names, and only that one.
  void fail_line(std::optional<uint64_t> id, const std::string& line,
                 std::string detail) {
    auto i = id ? pending.find(*id) : pending.end();
    if (i == pending.end()) {
      ignore(line);
      return;
    }
    if (i->second.kind == request_kind::call)
      ++stats.requests_handled;
    complete(*id, make_error(errc::bad_reply, i->second.command,
                             std::move(detail)));
  }

  void ignore(const std::string& line) {
    ++stats.ignored_lines;
    warn("process member " + std::to_string(stats.pid) + " (" + program()
         + "): ignored a stdout line that answers no pending request: "
         + excerpt(line));
  }

  void on_timeout(uint64_t id) {
    auto i = pending.find(id);
    if (i == pending.end())
      return;
    auto command = i->second.command;
    auto kind = i->second.kind;
    auto detail = "no reply within " + format_duration(i->second.timeout);
    complete(id, make_error(errc::call_timeout, command, std::move(detail)));
    if (kind != request_kind::startup_ping && spec.exit_on_timeout)
      shut_down(make_error(errc::process_failed, program(),
                           "stopped after \"" + command + "\" timed out"));
  }

  void on_exited(const std::string& how) {
    shut_down(make_error(errc::process_failed, program(), how));
  }

  void shut_down(const caf::error& reason) {
    if (stopping)
      return;
    stopping = true;
    fail_all(reason);
    self->quit(reason);
  }

  void fail_all(const caf::error& reason) {
    auto requests = std::move(pending);
    pending.clear();
    for (auto& kvp : requests) {
      if (kvp.second.kind != request_kind::startup_ping) {
        ++stats.errors;
        kvp.second.promise.deliver(reason);
      }
    }
  }

  std::string describe(const caf::error& err) const {
    auto detail = error_detail(err);
    return detail.empty() ? self->system().render(err) : detail;
  }
};

caf::behavior process_member(caf::stateful_actor<process_member_state>* self,
                             std::shared_ptr<detail::process> proc,
                             process_spec spec) {
  self->state.start(self, std::move(proc), std::move(spec));
  return {
    [=](process_call_atom, const std::string& command,
        const std::string& args) {
      auto& st = self->state;
      return st.submit(request_kind::call, command, args,
                       st.spec.request_timeout);
    },
    [=](process_call_atom, const std::string& command,
        const std::string& args, caf::timespan timeout) {
      return self->state.submit(request_kind::call, command, args, timeout);
    },
    [=](caf::ping_atom) {
      auto& st = self->state;
      return st.submit(request_kind::ping, "ping", "", st.spec.ping_timeout);
    },
    [=](caf::ping_atom, caf::timespan timeout) {
      return self->state.submit(request_kind::ping, "ping", "", timeout);
    },
    [=](process_stats_atom) { return self->state.stats; },
    [=](line_atom, const std::string& line, bool truncated) {
      self->state.on_line(line, truncated);
    },
    [=](exited_atom, const std::string& how) { self->state.on_exited(how); },
    [=](timeout_atom, uint64_t id) { self->state.on_timeout(id); },
  };
}

} // namespace

caf::expected<caf::actor> spawn_process_member(caf::actor_system& sys,
                                               process_spec spec) {
  auto program = spec.argv.empty() ? std::string{} : spec.argv.front();
  detail::process_options opts;
  opts.argv = spec.argv;
  opts.env = spec.env;
  opts.working_dir = spec.working_dir;
  opts.inherit_stderr = spec.inherit_stderr;
  opts.shutdown_timeout = spec.shutdown_timeout;
  opts.max_line_length = spec.max_line_length;
  std::string error;
  auto proc = detail::process::start(std::move(opts), error);
  if (!proc)
    return make_error(errc::process_failed, std::move(program),
                      std::move(error));
  return sys.spawn(process_member, std::move(proc), std::move(spec));
}

member_factory process_member_factory(process_spec spec) {
  return member_factory::function(
    [spec = std::move(spec)](caf::actor_system& sys) {
      return spawn_process_member(sys, spec);
    });
}

namespace {

// The argv a spawn by name gets: `base` extended by the spawn's arguments.
bool extend_argv(const caf::message& args, std::vector<std::string>& argv) {
  for (size_t i = 0; i < args.size(); ++i) {
    if (args.match_element<std::string>(i)) {
      argv.push_back(args.get_as<std::string>(i));
    } else if (args.match_element<int64_t>(i)) {
      argv.push_back(std::to_string(args.get_as<int64_t>(i)));
    } else if (args.match_element<std::vector<std::string>>(i)) {
      auto& xs = args.get_as<std::vector<std::string>>(i);
      argv.insert(argv.end(), xs.begin(), xs.end());
    } else {
      return false;
    }
  }
  return true;
}

} // namespace

void add_process_member_type(caf::actor_system_config& cfg,
                             std::string type_name, process_spec base) {
  // A raw actor factory, because `args` may have any number of elements.
  cfg.add_actor_factory(
    type_name,
    [type_name, base](caf::actor_config& ac,
                      caf::message& args) -> caf::actor_factory_result {
      auto spec = base;
      if (!extend_argv(args, spec.argv)) {
        warn("process member type \"" + type_name
             + "\": args must be strings, integers or lists of strings");
        return {};
      }
      auto& sys = ac.host->system();
      auto member = spawn_process_member(sys, std::move(spec));
      if (!member) {
        warn("process member type \"" + type_name
             + "\": " + sys.render(member.error()));
        return {};
      }
      return {caf::actor_cast<caf::strong_actor_ptr>(*member), {}};
    });
}

member_hook process_ping_hook(caf::timespan timeout) {
  return member_hook::message(caf::make_message(caf::ping_atom::value,
                                                timeout));
}

} // namespace pooler
