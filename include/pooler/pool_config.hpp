#pragma once

// One pool's configuration (docs/configuration.md) and the ways a member is
// made.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>
#include <caf/message.hpp>
#include <caf/timespan.hpp>

namespace pooler {

class metrics_sink;

/// How one member is spawned (pooler's `start_mfa`). Cheap to copy.
class member_factory {
public:
  using function_type =
    std::function<caf::expected<caf::actor>(caf::actor_system&)>;

  /// Unset: `spawn` fails; `validate` rejects a pool without a factory.
  member_factory() = default;

  /// A CAF actor type registered with `add_actor_type(type_name, ...)`,
  /// spawned with `args`. Config files use this form (`start`, `args`).
  static member_factory actor_type(std::string type_name,
                                   caf::message args = {});

  /// A C++ callable that spawns the member.
  static member_factory function(function_type fn);

  /// Spawns one member; the error of the spawn (e.g. `sec::unknown_type`,
  /// `sec::cannot_spawn_actor_from_arguments`) or of the callable.
  caf::expected<caf::actor> spawn(caf::actor_system& sys) const;

  /// The registered type name, or "" for a callable.
  const std::string& type_name() const noexcept { return type_name_; }
  const caf::message& args() const noexcept { return args_; }

  /// Human-readable form, e.g. `worker("a", 1)` or `<function>`.
  std::string describe() const;

  /// Same type and arguments, or the very same callable. `pool_reconfigure`
  /// rejects a config whose factory is not the same as the running one.
  bool same_as(const member_factory& other) const;

  explicit operator bool() const noexcept {
    return !type_name_.empty() || fn_ != nullptr;
  }

private:
  std::string type_name_;
  caf::message args_;
  std::shared_ptr<const function_type> fn_;
};

/// A hook run against one member: `initialize` (pooler's initialize_mfa),
/// `stop` (stop_mfa) or a health check. Either a message sent to the member
/// or a callable given the member. Cheap to copy; unset means "no hook".
class member_hook {
public:
  using function_type = std::function<caf::expected<void>(
    caf::actor_system&, const caf::actor& member)>;

  member_hook() = default;

  /// As initialize/health check: a request whose any non-error reply means
  /// success. As stop: sent to the member, which should then exit.
  static member_hook message(caf::message msg);

  /// Runs on a short-lived starter/stopper actor, never on the pool.
  static member_hook function(function_type fn);

  bool is_message() const noexcept { return has_msg_; }
  const caf::message& msg() const noexcept { return msg_; }
  const function_type* fn() const noexcept { return fn_.get(); }

  explicit operator bool() const noexcept { return has_msg_ || fn_ != nullptr; }

private:
  bool has_msg_ = false;
  caf::message msg_;
  std::shared_ptr<const function_type> fn_;
};

/// Which free member a take gets: the most (lifo) or the least (fifo)
/// recently returned one.
enum class member_order { lifo, fifo };

std::string to_string(member_order x);

/// Spacing of growth attempts after consecutive failed starts (**beyond**).
struct start_backoff_spec {
  caf::timespan initial = std::chrono::milliseconds(100);
  caf::timespan max = std::chrono::seconds(30);
};

/// The configuration of one pool. Field names are the keys of docs/configuration.md; config
/// files spell them with dashes (`init-count`).
struct pool_config {
  std::string name;            ///< required, unique
  size_t init_count = 0;       ///< members at start; cull floor; growth batch
  size_t max_count = 0;        ///< cap on free + in_use + starting + stopping
  member_factory start;        ///< required
  std::string group;           ///< "" = none
  caf::timespan cull_interval = std::chrono::minutes(1); ///< 0 = no culling
  caf::timespan max_age = std::chrono::seconds(30);
  caf::timespan member_start_timeout = std::chrono::minutes(1);
  size_t queue_max = 50;
  /// new_pool and app::start fail with start_failed (and the cause) unless
  /// this many of the init_count members started; 0 = the pool comes up
  /// anyway and keeps trying (Erlang pooler's way).
  size_t min_ready = 0;
  std::optional<size_t> auto_grow_threshold;
  member_hook initialize;
  member_hook stop;
  /// How the member supervisor stops a member: nullopt = brutal_kill.
  std::optional<caf::timespan> member_shutdown;
  std::optional<caf::timespan> max_lifetime;
  caf::timespan max_lifetime_jitter{0};
  pooler::member_order member_order = member_order::lifo;
  start_backoff_spec start_backoff;
  /// Name of a registered metrics sink (`register_metrics_sink`); "" = none.
  std::string metrics;
  /// A sink given directly from C++; takes precedence over `metrics`.
  std::shared_ptr<metrics_sink> sink;
  /// Period of the health check of idle members; nullopt = off.
  std::optional<caf::timespan> health_check_interval;
  /// The health check; unset with an interval set means a ping request.
  member_hook health_check;
};

/// Checks every rule of docs/configuration.md ("Validation"). Error: `invalid_config` whose context names
/// the pool and the key, e.g. `pool "p1": max_count: init_count (5) >
/// max_count (3)`.
caf::expected<void> validate(const pool_config& cfg);

/// Same, plus the checks that need the actor system's config: `start` names
/// an actor type added with `add_actor_type`, and `metrics` names a
/// registered sink (unless `sink` is set). For `new_pool` and reconfigure.
caf::expected<void> validate(const pool_config& cfg,
                             const caf::actor_system_config& sys_cfg);

/// Parses a duration: "2min", "120s", "120000ms", "500us", "1h", "10ns".
/// Error: `invalid_config` naming `what` (the key) on a bad number or unit.
caf::expected<caf::timespan> parse_duration(const std::string& text,
                                            const std::string& what = "duration");

/// Parses pooler's pair form, e.g. (2, "min"). Same errors as above.
caf::expected<caf::timespan> parse_duration(int64_t amount,
                                            const std::string& unit,
                                            const std::string& what = "duration");

/// Renders a duration with the largest exact unit, e.g. "2min", "1500ms".
std::string format_duration(caf::timespan x);

} // namespace pooler
