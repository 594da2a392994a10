// The supervisor's operations (OTP's start_child, terminate_child,
// restart_child, delete_child, which_children, count_children).

#include "actors/supervisor_state.hpp"

#include <algorithm>
#include <utility>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

namespace pooler {

// -- requests -----------------------------------------------------------------

caf::result<caf::actor> supervisor_state::start_child(child_spec spec) {
  if (dynamic())
    return make_error(errc::simple_one_for_one, spec.id,
                      "start_child takes arguments, not a child spec");
  if (auto c = find_id(spec.id))
    return make_error(c->handle || c->waiting ? errc::already_started
                                              : errc::already_present,
                      spec.id);
  auto res = run_start(spec, self_->system(), caf::message{});
  if (!res)
    return std::move(res.error());
  auto& c = add_rec(std::move(spec), caf::message{});
  adopt(c, std::move(*res));
  return c.handle;
}

caf::result<void> supervisor_state::terminate_child(const std::string& id) {
  if (dynamic())
    return make_error(errc::simple_one_for_one, id);
  auto c = find_id(id);
  if (!c)
    return make_error(errc::not_found, id);
  cancel_wait(*c);
  auto key = c->key;
  auto temporary = c->spec->restart == restart_type::temporary;
  if (!c->handle) {
    if (temporary)
      remove(key);
    return caf::unit;
  }
  auto rp = self_->make_response_promise();
  stop({detach(*c)}, false, [this, key, temporary, rp]() mutable {
    if (temporary)
      remove(key);
    rp.deliver(caf::unit);
  });
  return rp;
}

caf::expected<supervisor_state::child_rec*>
supervisor_state::find_stopped(const std::string& id) {
  if (dynamic())
    return make_error(errc::simple_one_for_one, id);
  auto c = find_id(id);
  if (!c)
    return make_error(errc::not_found, id);
  if (c->handle || c->waiting)
    return make_error(errc::running, id);
  return c;
}

caf::result<caf::actor> supervisor_state::restart_child(const std::string& id) {
  auto c = find_stopped(id);
  if (!c)
    return std::move(c.error());
  if (auto err = start_rec(**c))
    return err;
  return (*c)->handle;
}

caf::result<void> supervisor_state::delete_child(const std::string& id) {
  auto c = find_stopped(id);
  if (!c)
    return std::move(c.error());
  remove((*c)->key);
  return caf::unit;
}

std::vector<child_info> supervisor_state::which_children() const {
  std::vector<child_info> out;
  if (!dynamic()) {
    for (auto& c : children_)
      out.push_back({c.spec->id, c.handle, c.spec->type});
    return out;
  }
  // Keys grow with every start_child: sorting by key is start order.
  std::vector<const child_rec*> live;
  for (auto& kv : dynamic_)
    if (kv.second.handle)
      live.push_back(&kv.second);
  std::sort(live.begin(), live.end(),
            [](auto x, auto y) { return x->key < y->key; });
  for (auto c : live)
    out.push_back({template_.id, c->handle, template_.type});
  return out;
}

child_counts supervisor_state::count_children() const {
  child_counts res;
  auto tally = [&res](const child_rec& c, child_type type) {
    if (c.handle)
      ++res.active;
    if (type == child_type::supervisor)
      ++res.supervisors;
    else
      ++res.workers;
  };
  if (dynamic()) {
    res.specs = 1; // OTP counts the template once
    for (auto& kv : dynamic_)
      tally(kv.second, template_.type);
    return res;
  }
  res.specs = children_.size();
  for (auto& c : children_)
    tally(c, c.spec->type);
  return res;
}

} // namespace pooler
