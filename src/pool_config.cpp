// Member factories, hooks and the validation rules of a pool config.

#include "pooler/pool_config.hpp"

#include <exception>
#include <string>
#include <utility>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "pooler/errors.hpp"
#include "pooler/metrics.hpp"
#include "src/config_keys.hpp"

namespace pooler {

// -- member_factory -----------------------------------------------------------

member_factory member_factory::actor_type(std::string type_name,
                                          caf::message args) {
  member_factory result;
  result.type_name_ = std::move(type_name);
  result.args_ = std::move(args);
  return result;
}

member_factory member_factory::function(function_type fn) {
  member_factory result;
  if (fn)
    result.fn_ = std::make_shared<const function_type>(std::move(fn));
  return result;
}

caf::expected<caf::actor> member_factory::spawn(caf::actor_system& sys) const {
  if (fn_ == nullptr) {
    if (type_name_.empty())
      return make_error(errc::start_failed, "", "no member factory set");
    return sys.spawn<caf::actor>(type_name_, args_);
  }
  // A throwing user callable must not take the starter (or the pool) down.
  try {
    return (*fn_)(sys);
  } catch (const std::exception& ex) {
    return make_error(errc::start_failed, "", ex.what());
  } catch (...) {
    return make_error(errc::start_failed, "", "member factory threw");
  }
}

std::string member_factory::describe() const {
  if (fn_ != nullptr)
    return "<function>";
  if (type_name_.empty())
    return "<unset>";
  // to_string of an empty message is "()", which reads well here too.
  return type_name_ + caf::to_string(args_);
}

bool member_factory::same_as(const member_factory& other) const {
  if (fn_ != nullptr || other.fn_ != nullptr)
    return fn_ == other.fn_;
  // caf::message has no operator== in 0.17; its rendering includes every
  // element's type-specific form, which is as strict as we need here.
  return type_name_ == other.type_name_
         && caf::to_string(args_) == caf::to_string(other.args_);
}

// -- member_hook --------------------------------------------------------------

member_hook member_hook::message(caf::message msg) {
  member_hook result;
  result.has_msg_ = true;
  result.msg_ = std::move(msg);
  return result;
}

member_hook member_hook::function(function_type fn) {
  member_hook result;
  if (fn)
    result.fn_ = std::make_shared<const function_type>(std::move(fn));
  return result;
}

std::string to_string(member_order x) {
  switch (x) {
    case member_order::lifo: return "lifo";
    case member_order::fifo: return "fifo";
  }
  return "invalid member_order(" + std::to_string(static_cast<int>(x)) + ")";
}

// -- validation ---------------------------------------------------------------

namespace {

// Key names in messages: C++ fields for validate(), dashes for config files.
class key_speller {
public:
  explicit key_speller(bool file_keys) : file_keys_(file_keys) {}

  std::string operator()(std::string key) const {
    if (file_keys_)
      for (auto& c : key)
        if (c == '_')
          c = '-';
    return key;
  }

private:
  bool file_keys_;
};

std::string fmt(caf::timespan x) {
  return format_duration(x);
}

std::string check_counts(const pool_config& cfg, const key_speller& key) {
  if (cfg.name.empty())
    return key("name") + ": must not be empty";
  if (!cfg.start)
    return key("start") + ": required (no member factory set)";
  if (cfg.max_count == 0)
    return key("max_count") + ": must be at least 1";
  if (cfg.init_count > cfg.max_count)
    return key("max_count") + ": " + key("init_count") + " ("
           + std::to_string(cfg.init_count) + ") > " + key("max_count") + " ("
           + std::to_string(cfg.max_count) + ")";
  if (cfg.min_ready > cfg.init_count)
    return key("min_ready") + ": " + key("min_ready") + " ("
           + std::to_string(cfg.min_ready) + ") > " + key("init_count") + " ("
           + std::to_string(cfg.init_count) + ")";
  return {};
}

std::string not_negative(const char* name, caf::timespan x,
                         const key_speller& key) {
  if (x.count() < 0)
    return key(name) + ": must not be negative, got " + fmt(x);
  return {};
}

std::string positive(const char* name, caf::timespan x,
                     const key_speller& key) {
  if (x.count() <= 0)
    return key(name) + ": must be positive, got " + fmt(x);
  return {};
}

std::string check_lifetime(const pool_config& cfg, const key_speller& key) {
  if (auto p
      = not_negative("max_lifetime_jitter", cfg.max_lifetime_jitter, key);
      !p.empty())
    return p;
  if (!cfg.max_lifetime) {
    if (cfg.max_lifetime_jitter.count() > 0)
      return key("max_lifetime_jitter") + ": requires " + key("max_lifetime");
    return {};
  }
  if (auto p = positive("max_lifetime", *cfg.max_lifetime, key); !p.empty())
    return p;
  if (cfg.max_lifetime_jitter >= *cfg.max_lifetime)
    return key("max_lifetime_jitter") + ": " + fmt(cfg.max_lifetime_jitter)
           + " must be less than " + key("max_lifetime") + " ("
           + fmt(*cfg.max_lifetime) + ")";
  return {};
}

std::string check_durations(const pool_config& cfg, const key_speller& key) {
  std::string p;
  if (p = not_negative("cull_interval", cfg.cull_interval, key); !p.empty())
    return p;
  if (p = not_negative("max_age", cfg.max_age, key); !p.empty())
    return p;
  if (p = positive("member_start_timeout", cfg.member_start_timeout, key);
      !p.empty())
    return p;
  if (cfg.member_shutdown && cfg.member_shutdown->count() <= 0)
    return key("member_shutdown") + ": must be positive, got "
           + fmt(*cfg.member_shutdown) + " (use brutal_kill to kill at once)";
  if (cfg.health_check_interval)
    if (p = positive("health_check_interval", *cfg.health_check_interval, key);
        !p.empty())
      return p;
  return check_lifetime(cfg, key);
}

std::string check_backoff(const pool_config& cfg, const key_speller& key) {
  auto& b = cfg.start_backoff;
  if (b.initial.count() <= 0)
    return key("start_backoff") + ": initial must be positive, got "
           + fmt(b.initial);
  if (b.initial > b.max)
    return key("start_backoff") + ": initial (" + fmt(b.initial) + ") > max ("
           + fmt(b.max) + ")";
  return {};
}

std::string check_misc(const pool_config& cfg, const key_speller& key) {
  if (cfg.member_order != member_order::lifo
      && cfg.member_order != member_order::fifo)
    return key("member_order") + ": invalid value "
           + std::to_string(static_cast<int>(cfg.member_order));
  if (cfg.health_check && !cfg.health_check_interval)
    return key("health_check") + ": requires " + key("health_check_interval");
  return {};
}

} // namespace

namespace detail {

std::string validation_problem(const pool_config& cfg, bool file_keys) {
  key_speller key{file_keys};
  for (auto check : {check_counts, check_durations, check_backoff, check_misc})
    if (auto p = check(cfg, key); !p.empty())
      return p;
  return {};
}

std::string actor_type_problem(const pool_config& cfg,
                               const caf::actor_system_config& sys_cfg) {
  auto& type = cfg.start.type_name();
  if (type.empty() || sys_cfg.actor_factories.count(type) != 0)
    return {};
  return "start: unknown actor type " + quote(type)
         + " (not added with add_actor_type)";
}

} // namespace detail

caf::expected<void> validate(const pool_config& cfg) {
  auto problem = detail::validation_problem(cfg, false);
  if (!problem.empty())
    return detail::config_error(cfg.name, std::move(problem));
  return {};
}

caf::expected<void> validate(const pool_config& cfg,
                             const caf::actor_system_config& sys_cfg) {
  if (auto res = validate(cfg); !res)
    return res;
  if (auto p = detail::actor_type_problem(cfg, sys_cfg); !p.empty())
    return detail::config_error(cfg.name, std::move(p));
  if (cfg.sink == nullptr && !cfg.metrics.empty()
      && find_metrics_sink(cfg.metrics) == nullptr)
    return detail::config_error(cfg.name, "metrics: no sink registered as "
                                            + detail::quote(cfg.metrics));
  return {};
}

} // namespace pooler
