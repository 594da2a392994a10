// One pool's subtree: an all_for_one supervisor over the member supervisor
// and the pool actor, so that a dead pool actor takes its members down with
// it and comes back with init_count fresh ones.

#include "actors/tree.hpp"

#include <caf/all.hpp>

#include "actors/pool_state.hpp"

namespace pooler {

namespace {

child_spec member_template(const pool_config& cfg) {
  child_spec spec;
  spec.id = "member";
  spec.start = [factory = cfg.start](caf::actor_system& sys, const caf::message&) {
    return factory.spawn(sys);
  };
  spec.restart = restart_type::temporary; // the pool replaces members itself
  spec.shutdown = cfg.member_shutdown ? shutdown_spec::wait(*cfg.member_shutdown)
                                      : shutdown_spec::kill();
  return spec;
}

child_spec member_sup_spec(std::shared_ptr<registry> reg, std::string name) {
  child_spec spec;
  spec.id = "member_sup";
  spec.type = child_type::supervisor;
  spec.start = [reg, name](caf::actor_system& sys) -> caf::expected<caf::actor> {
    auto cfg = reg->config(name);
    if (!cfg)
      return make_error(errc::pool_not_found, name);
    sup_flags flags;
    flags.strategy = strategy::simple_one_for_one;
    auto sup = start_supervisor(sys, flags, {member_template(*cfg)});
    if (sup)
      reg->set_member_sup(name, *sup);
    return sup;
  };
  return spec;
}

child_spec pool_spec(std::shared_ptr<registry> reg, std::string name) {
  child_spec spec;
  spec.id = "pool";
  spec.start = [reg, name](caf::actor_system& sys) -> caf::expected<caf::actor> {
    auto member_sup = reg->member_sup(name);
    if (!member_sup)
      return make_error(errc::start_failed, name, "no member supervisor");
    auto pool = sys.spawn(pool_actor, reg, name, member_sup);
    reg->set_pool(name, pool);
    return pool;
  };
  return spec;
}

} // namespace

std::string pool_sup_id(const std::string& name) {
  return name + "_pool_sup";
}

child_spec pool_sup_spec(std::shared_ptr<registry> reg, const std::string& name) {
  child_spec spec;
  spec.id = pool_sup_id(name);
  spec.type = child_type::supervisor;
  spec.start = [reg, name](caf::actor_system& sys) -> caf::expected<caf::actor> {
    sup_flags flags;
    flags.strategy = strategy::all_for_one;
    flags.intensity = 5;
    flags.period = std::chrono::seconds(60);
    auto sup = start_supervisor(sys, flags,
                                {member_sup_spec(reg, name), pool_spec(reg, name)});
    if (sup)
      reg->set_pool_sup(name, *sup);
    return sup;
  };
  return spec;
}

} // namespace pooler
