// One pool's subtree: an all_for_one supervisor over the member supervisor
// and the pool actor, so that a dead pool actor takes its members down with
// it and comes back with init_count fresh ones.

#include "actors/tree.hpp"

#include <caf/all.hpp>

#include "actors/pool_state.hpp"

namespace pooler {

namespace {

using record_ptr = std::shared_ptr<pool_record>;

child_spec member_template(const pool_config& cfg) {
  child_spec spec;
  spec.id = "member";
  spec.start = [factory = cfg.start](caf::actor_system& sys, const caf::message&) {
    return factory.spawn(sys);
  };
  spec.restart = restart_type::temporary; // the pool replaces members itself
  // Spawning a registered actor type never blocks (the actor initialises
  // on a worker later): no runner thread. A function is user code and may.
  spec.inline_start = !cfg.start.type_name().empty();
  spec.shutdown = cfg.member_shutdown ? shutdown_spec::wait(*cfg.member_shutdown)
                                      : shutdown_spec::kill();
  return spec;
}

child_spec member_sup_spec(std::shared_ptr<registry> reg, record_ptr rec) {
  child_spec spec;
  spec.id = "member_sup";
  spec.type = child_type::supervisor;
  spec.start = [reg, rec](caf::actor_system& sys) -> caf::expected<caf::actor> {
    sup_flags flags;
    flags.strategy = strategy::simple_one_for_one;
    auto sup = start_supervisor(sys, flags, {member_template(reg->config(*rec))});
    if (sup)
      reg->set_member_sup(*rec, *sup);
    return sup;
  };
  return spec;
}

child_spec pool_spec(std::shared_ptr<registry> reg, record_ptr rec) {
  child_spec spec;
  spec.id = "pool";
  spec.start = [reg, rec](caf::actor_system& sys) -> caf::expected<caf::actor> {
    auto name = reg->config(*rec).name;
    auto member_sup = reg->member_sup(*rec);
    if (!member_sup)
      return make_error(errc::start_failed, name, "no member supervisor");
    auto pool = sys.spawn(pool_actor, reg, name, member_sup);
    reg->set_pool(*rec, pool);
    return pool;
  };
  return spec;
}

/// Held by every copy of a subtree's child spec: when the last copy goes
/// (the supervisor deleted the child, or ended), the name goes too.
struct registration {
  std::weak_ptr<registry> reg;
  record_ptr rec;
  ~registration() {
    if (auto r = reg.lock())
      r->release(*rec);
  }
};

} // namespace

std::string pool_sup_id(const std::string& name) {
  return name + "_pool_sup";
}

child_spec pool_sup_spec(std::shared_ptr<registry> reg, record_ptr rec) {
  child_spec spec;
  spec.id = pool_sup_id(rec->config.name);
  spec.type = child_type::supervisor;
  auto owner = std::make_shared<registration>(registration{reg, rec});
  spec.start = [reg, rec, owner](caf::actor_system& sys)
    -> caf::expected<caf::actor> {
    // A name held by another pool is refused; a restart finds its own
    // record, with the config as last reconfigured.
    if (!reg->claim(rec))
      return make_error(errc::pool_exists, reg->config(*rec).name);
    sup_flags flags;
    flags.strategy = strategy::all_for_one;
    flags.intensity = 5;
    flags.period = std::chrono::seconds(60);
    auto sup = start_supervisor(sys, flags,
                                {member_sup_spec(reg, rec), pool_spec(reg, rec)});
    if (!sup) {
      reg->release(*rec);
      return sup;
    }
    reg->set_pool_sup(*rec, *sup);
    // An ended subtree is unreachable by name until its supervisor restarts
    // it; if that restart already happened, the record names the new one.
    std::weak_ptr<registry> weak = reg;
    caf::actor_cast<caf::abstract_actor*>(*sup)->attach_functor(
      [weak, rec, addr = sup->address()] {
        if (auto r = weak.lock())
          r->release(*rec, &addr);
      });
    return sup;
  };
  return spec;
}

} // namespace pooler
