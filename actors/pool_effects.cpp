// The pool actor carrying out the book's effects: starters, stoppers and
// health checkers (through the starter supervisor), answers to waiters,
// delayed ticks, monitors, metrics and log lines.

#include "actors/pool_state.hpp"

#include <type_traits>

#include <caf/all.hpp>

#include "actors/protocol.hpp"
#include "pooler/supervisor.hpp"
#include "pooler/errors.hpp"
#include "src/log.hpp"
#include "src/overload.hpp"

namespace pooler {

namespace {

constexpr auto far = std::chrono::hours(24 * 100);

caf::timespan delay_until(book_time t, book_time now) {
  // A far deadline is aimed at 100 days: the book rescans on that tick and
  // re-arms, and CAF's clock must not overflow.
  if (t <= now)
    return caf::timespan{0};
  if (t - now > far)
    return far;
  return std::chrono::duration_cast<caf::timespan>(t - now);
}

} // namespace

book_time pool_state::tick_clock() {
  now = book_clock::now();
  return now;
}

void pool_state::apply(const effects& fx) {
  sh->apply(fx, self->context(), this);
}

void pool_state::apply_own(const effect& e) {
  // The effects any thread can carry out were done by the shared book.
  std::visit(
    overload{
      [this](const fx::start& x) { start_member(x.id); },
      [this](const fx::stop& x) { stop_member(x.member); },
      [this](const fx::check& x) { check_member(x.member, x.timeout); },
      [this](const fx::arm& x) { arm(x.kind, x.at, x.gen); },
      [this](const fx::ready&) {
        auto err = not_ready();
        for (auto& rp : ready_waiters)
          if (err)
            rp.deliver(err);
          else
            rp.deliver(caf::unit);
        ready_waiters.clear();
      },
      [this](const fx::reconfigured& x) {
        if (reconfigure_waiter)
          reconfigure_waiter->deliver(x.actions);
        reconfigure_waiter.reset();
      },
      [](const auto&) {},
    },
    e);
}

void pool_state::start_member(start_id id) {
  auto ss = reg->starter_sup();
  if (!ss) {
    self->send(self, accept_atom::value, id,
               make_error(errc::start_failed, name, "no starter supervisor"));
    return;
  }
  auto& cfg = book().config();
  start_job job{self, member_sup, cfg.initialize, cfg.member_start_timeout, id,
                cfg.name};
  self
    ->request(ss, caf::infinite, start_child_atom::value,
              caf::make_message(std::move(job)))
    .then([](const caf::actor&) {},
          [self = self, id](const caf::error& err) {
            self->send(self, accept_atom::value, id, err);
          });
}

void pool_state::stop_member(member_id id) {
  // A stop a caller's thread asked for may come after the member's death.
  auto h = sh->handles.find(id);
  if (h == sh->handles.end())
    return;
  auto member = h->second;
  auto ss = reg->starter_sup();
  auto fallback = [self = self, member](const caf::error&) {
    // No stopper: stop the member directly rather than leak the slot.
    self->send_exit(member, caf::exit_reason::kill);
  };
  if (!ss) {
    fallback(caf::error{});
    return;
  }
  auto& cfg = book().config();
  stop_job job{member, member_sup, cfg.stop,
               cfg.member_shutdown.value_or(std::chrono::seconds(5))};
  self
    ->request(ss, caf::infinite, start_child_atom::value,
              caf::make_message(std::move(job)))
    .then([](const caf::actor&) {}, fallback);
}

void pool_state::check_member(member_id id, book_duration timeout) {
  auto h = sh->handles.find(id);
  if (h == sh->handles.end())
    return;
  auto member = h->second;
  auto ss = reg->starter_sup();
  if (!ss) {
    // Nobody to run the check: the member stays in service.
    self->send(self, health_result_atom::value, member, caf::error{});
    return;
  }
  health_job job{self, member, book().config().health_check, timeout};
  self
    ->request(ss, caf::infinite, start_child_atom::value,
              caf::make_message(std::move(job)))
    .then([](const caf::actor&) {},
          [self = self, member](const caf::error& err) {
            self->send(self, health_result_atom::value, member, err);
          });
}

void pool_state::arm(book_timer kind, book_time at, uint64_t gen) {
  auto d = delay_until(at, now);
  switch (kind) {
    case book_timer::queue:
      self->delayed_send(self, d, tick_queue_atom::value, gen);
      break;
    case book_timer::ttl:
      self->delayed_send(self, d, tick_ttl_atom::value, gen);
      break;
    case book_timer::start:
      self->delayed_send(self, d, tick_start_atom::value, gen);
      break;
    case book_timer::grow:
      self->delayed_send(self, d, tick_grow_atom::value, gen);
      break;
    case book_timer::cull:
      self->delayed_send(self, d, cull_atom::value, gen);
      break;
    case book_timer::health:
      self->delayed_send(self, d, tick_health_atom::value, gen);
      break;
  }
}

caf::error pool_state::to_error(const book_error& e) const {
  return make_error(e.code, name, e.detail);
}

} // namespace pooler
