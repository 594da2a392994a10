#include "pooler/supervisor.hpp"

#include <set>
#include <utility>

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/supervisor_state.hpp"

namespace pooler {

std::string to_string(strategy x) {
  switch (x) {
    case strategy::one_for_one: return "one_for_one";
    case strategy::all_for_one: return "all_for_one";
    case strategy::rest_for_one: return "rest_for_one";
    case strategy::simple_one_for_one: return "simple_one_for_one";
  }
  return "unknown_strategy";
}

std::string to_string(restart_type x) {
  switch (x) {
    case restart_type::permanent: return "permanent";
    case restart_type::transient: return "transient";
    case restart_type::temporary: return "temporary";
  }
  return "unknown_restart_type";
}

std::string to_string(child_type x) {
  switch (x) {
    case child_type::worker: return "worker";
    case child_type::supervisor: return "supervisor";
  }
  return "unknown_child_type";
}

shutdown_spec child_spec::effective_shutdown() const {
  if (shutdown)
    return *shutdown;
  return type == child_type::supervisor ? shutdown_spec::forever()
                                        : shutdown_spec::wait(std::chrono::seconds(5));
}

namespace {

caf::error invalid(std::string subject, std::string detail) {
  return make_error(errc::invalid_config, std::move(subject), std::move(detail));
}

caf::error validate(const sup_flags& flags, const std::vector<child_spec>& specs) {
  if (flags.intensity < 0)
    return invalid("supervisor", "intensity must not be negative");
  if (flags.period.count() <= 0)
    return invalid("supervisor", "period must be positive");
  if (auto& b = flags.backoff) {
    if (b->initial.count() < 0 || b->max < b->initial)
      return invalid("supervisor", "backoff needs 0 <= initial <= max");
    if (b->multiplier < 1.0)
      return invalid("supervisor", "backoff multiplier must be >= 1");
    if (b->jitter < 0.0 || b->jitter >= 1.0)
      return invalid("supervisor", "backoff jitter must be in [0, 1)");
  }
  if (flags.strategy == strategy::simple_one_for_one && specs.size() != 1)
    return invalid("supervisor", "simple_one_for_one needs exactly one spec");
  std::set<std::string> ids;
  for (auto& spec : specs) {
    if (!spec.start)
      return invalid(spec.id, "child spec without a start function");
    if (!ids.insert(spec.id).second)
      return invalid(spec.id, "duplicate child id");
  }
  return caf::none;
}

} // namespace

caf::expected<caf::actor> start_supervisor(caf::actor_system& sys,
                                           sup_flags flags,
                                           std::vector<child_spec> specs) {
  if (auto err = validate(flags, specs))
    return err;
  supervisor_init init;
  init.flags = std::move(flags);
  init.specs = std::move(specs);
  if (init.flags.strategy != strategy::simple_one_for_one) {
    for (auto& spec : init.specs) {
      auto child = run_start(spec, sys, caf::message{});
      if (!child) {
        // The supervisor actor stops what was started, in reverse order, by
        // each child's shutdown spec; we must not block here.
        if (!init.started.empty()) {
          init.teardown = true;
          spawn_supervisor(sys, std::move(init));
        }
        return std::move(child.error());
      }
      init.started.push_back(std::move(*child));
    }
  }
  return spawn_supervisor(sys, std::move(init));
}

child_spec supervisor_spec(std::string id, sup_flags flags,
                           std::vector<child_spec> children) {
  child_spec spec;
  spec.id = std::move(id);
  spec.start = [flags = std::move(flags),
                children = std::move(children)](caf::actor_system& sys) {
    return start_supervisor(sys, flags, children);
  };
  spec.type = child_type::supervisor;
  return spec;
}

// -- blocking helpers -----------------------------------------------------------

namespace {

constexpr auto call_timeout = std::chrono::seconds(10);

template <class T, class... Ts>
caf::expected<T> call(caf::scoped_actor& self, const caf::actor& sup,
                      Ts&&... xs) {
  caf::expected<T> res{caf::sec::unexpected_response};
  self->request(sup, call_timeout, std::forward<Ts>(xs)...)
    .receive([&](T& x) { res = std::move(x); },
             [&](caf::error& err) { res = std::move(err); });
  return res;
}

// Replies without a value are empty messages.
template <class... Ts>
caf::expected<void> call_void(caf::scoped_actor& self, const caf::actor& sup,
                              Ts&&... xs) {
  caf::expected<void> res;
  self->request(sup, call_timeout, std::forward<Ts>(xs)...)
    .receive([] {}, [&](caf::error& err) { res = std::move(err); });
  return res;
}

} // namespace

caf::expected<caf::actor> start_child(caf::scoped_actor& self,
                                      const caf::actor& sup, child_spec spec) {
  return call<caf::actor>(self, sup, start_child_atom::value, std::move(spec));
}

caf::expected<caf::actor> start_child(caf::scoped_actor& self,
                                      const caf::actor& sup, caf::message args) {
  return call<caf::actor>(self, sup, start_child_atom::value, std::move(args));
}

caf::expected<void> terminate_child(caf::scoped_actor& self,
                                    const caf::actor& sup,
                                    const std::string& id) {
  return call_void(self, sup, terminate_child_atom::value, id);
}

caf::expected<void> terminate_child(caf::scoped_actor& self,
                                    const caf::actor& sup,
                                    const caf::actor& child) {
  return call_void(self, sup, terminate_child_atom::value, child);
}

caf::expected<caf::actor> restart_child(caf::scoped_actor& self,
                                        const caf::actor& sup,
                                        const std::string& id) {
  return call<caf::actor>(self, sup, restart_child_atom::value, id);
}

caf::expected<void> delete_child(caf::scoped_actor& self, const caf::actor& sup,
                                 const std::string& id) {
  return call_void(self, sup, delete_child_atom::value, id);
}

caf::expected<std::vector<child_info>>
which_children(caf::scoped_actor& self, const caf::actor& sup) {
  return call<std::vector<child_info>>(self, sup, which_children_atom::value);
}

caf::expected<child_counts> count_children(caf::scoped_actor& self,
                                           const caf::actor& sup) {
  return call<child_counts>(self, sup, count_children_atom::value);
}

} // namespace pooler
