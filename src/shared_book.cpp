// The shared pool book: takes and returns in the caller's thread, and the
// effects any thread can carry out.

#include "src/shared_book.hpp"

#include <type_traits>

#include <caf/all.hpp>
#include <caf/default_attachable.hpp>

#include "actors/protocol.hpp"
#include "pooler/errors.hpp"
#include "src/log.hpp"
#include "src/overload.hpp"

namespace pooler {

shared_book::shared_book(std::string pool_name, pool_config cfg,
                         uint64_t seed)
  : name(std::move(pool_name)), book(std::move(cfg), seed) {
  metrics.configure(book.config());
}

// -- a caller's thread -------------------------------------------------------------

caf::actor shared_book::take_here(caf::actor_control_block* who,
                                  const std::string& affinity,
                                  caf::execution_unit* ctx) {
  std::lock_guard<std::mutex> guard{mtx};
  if (!pool || who == nullptr)
    return {};
  auto c = consumer_of(who);
  auto id = book.take_free(c, affinity, book_clock::now());
  apply(book.last_effects(), ctx, nullptr);
  if (!id) {
    forget_consumer_if_unknown(c);
    return {};
  }
  return handles[*id];
}

caf::expected<caf::actor>
shared_book::try_take_here(caf::actor_control_block* who,
                           const std::string& affinity,
                           caf::execution_unit* ctx) {
  std::lock_guard<std::mutex> guard{mtx};
  if (!pool)
    return make_error(errc::pool_not_found, name, "pool stopped");
  if (who == nullptr)
    return make_error(errc::invalid_argument, name,
                      "try_take_member needs an actor to hold the member");
  auto c = consumer_of(who);
  auto res = book.take(c, book_duration{0}, affinity, book_clock::now());
  apply(book.last_effects(), ctx, nullptr);
  if (res.member)
    return handles[*res.member];
  forget_consumer_if_unknown(c);
  return to_error(res.error.value_or(book_error{}));
}

bool shared_book::give_back_here(const caf::actor& member, bool failed,
                                 uint64_t requests, caf::execution_unit* ctx) {
  std::lock_guard<std::mutex> guard{mtx};
  if (!pool)
    return false;
  auto i = member ? handles.find(member.id()) : handles.end();
  if (i == handles.end() || i->second != member) {
    warn("pool \"" + name + "\": ignored the return of an unknown member");
    return true;
  }
  apply(book.give_back(i->first, failed, requests, book_clock::now()), ctx,
        nullptr);
  return true;
}

// -- both paths --------------------------------------------------------------------

consumer_id shared_book::consumer_of(caf::actor_control_block* who) {
  auto [i, added] = consumer_ids.try_emplace(who, 0);
  if (added) {
    i->second = ++next_consumer;
    consumer_addrs.emplace(i->second, who->address());
  }
  return i->second;
}

void shared_book::forget_consumer_if_unknown(consumer_id c) {
  if (book.knows_consumer(c))
    return;
  if (auto a = consumer_addrs.find(c); a != consumer_addrs.end()) {
    consumer_ids.erase(a->second.get());
    consumer_addrs.erase(a);
  }
}

void shared_book::apply(const effects& fx, caf::execution_unit* ctx,
                        actor_effects* own) {
  for (auto& e : fx) {
    if (apply_here(e, ctx))
      continue;
    if (own != nullptr)
      own->apply_own(e);
    else
      defer(e, ctx);
  }
  publish_gauges();
}

bool shared_book::apply_here(const effect& e, caf::execution_unit* ctx) {
  return std::visit(
    overload{
      [&](const fx::hand& x) {
        auto h = handles.find(x.member);
        answer(x.waiter, caf::make_message(h != handles.end() ? h->second
                                                              : caf::actor{}),
               ctx);
        return true;
      },
      [&](const fx::fail& x) {
        answer(x.waiter, caf::make_message(to_error(x.error)), ctx);
        return true;
      },
      [&](const fx::watch& x) {
        watch(x.consumer, ctx);
        return true;
      },
      [&](const fx::unwatch& x) {
        unwatch(x.consumer);
        return true;
      },
      [&](const fx::forget& x) {
        handles.erase(x.member);
        return true;
      },
      [&](const fx::count& x) {
        metrics.count(x.m, x.n);
        return true;
      },
      [&](const fx::count_reason& x) {
        metrics.count(x.m, x.reason);
        return true;
      },
      [&](const fx::observe& x) {
        metrics.seconds(x.m, x.d);
        return true;
      },
      [&](const fx::warn& x) {
        warn("pool \"" + name + "\": " + x.text);
        return true;
      },
      [](const auto&) { return false; },
    },
    e);
}

void shared_book::answer(waiter_id w, caf::message msg,
                         caf::execution_unit* ctx) {
  auto i = waiters.find(w);
  if (i == waiters.end())
    return;
  // Straight to the requestor, as the promise would, but on the caller's
  // execution unit: the promise would use the pool actor's, which belongs
  // to another thread when a caller hands a member over. Takes are plain
  // requests, never forwarded: the next stage is the requestor.
  if (auto dest = i->second.next())
    dest->enqueue(pool, i->second.id().response_id(), std::move(msg), ctx);
  waiters.erase(i);
}

void shared_book::watch(consumer_id c, caf::execution_unit* ctx) {
  auto a = consumer_addrs.find(c);
  if (a == consumer_addrs.end() || !pool)
    return;
  // A monitor is an attachable on the consumer that tells the pool actor;
  // any thread may attach it, as `monitor` does for the pool actor.
  if (auto who = caf::actor_cast<caf::strong_actor_ptr>(a->second)) {
    who->get()->attach(
      caf::default_attachable::make_monitor(a->second, pool->address()));
    return;
  }
  // Gone already: the pool hears of it as of any consumer's death.
  pool->enqueue(nullptr, caf::make_message_id(),
                caf::make_message(
                  caf::down_msg{a->second, caf::exit_reason::unknown}),
                ctx);
}

void shared_book::unwatch(consumer_id c) {
  auto a = consumer_addrs.find(c);
  if (a == consumer_addrs.end())
    return;
  unwatch_only(a->second);
  consumer_ids.erase(a->second.get());
  consumer_addrs.erase(a);
}

void shared_book::unwatch_only(const caf::actor_addr& consumer) {
  if (!pool)
    return;
  if (auto who = caf::actor_cast<caf::strong_actor_ptr>(consumer)) {
    caf::default_attachable::observe_token tk{
      pool->address(), caf::default_attachable::monitor};
    who->get()->detach(tk);
  }
}

void shared_book::defer(const effect& e, caf::execution_unit* ctx) {
  if (deferred.empty() && pool)
    pool->enqueue(nullptr, caf::make_message_id(),
                  caf::make_message(drain_atom::value), ctx);
  deferred.push_back(e);
}

void shared_book::publish_gauges() {
  if (metrics)
    metrics.counts(book.gauges());
}

caf::error shared_book::to_error(const book_error& e) const {
  return make_error(e.code, name, e.detail);
}

void shared_book::close() {
  auto err = make_error(errc::pool_not_found, name, "pool stopped");
  std::vector<waiter_id> ids;
  ids.reserve(waiters.size());
  for (auto& kvp : waiters)
    ids.push_back(kvp.first);
  for (auto id : ids)
    answer(id, caf::make_message(err), nullptr);
  deferred.clear();
  // A monitor lasts until the observed actor dies: consumers that outlive
  // this pool actor must not keep its entries.
  for (auto& kvp : consumer_addrs)
    unwatch_only(kvp.second);
  pool.reset();
  // Threads cache the book with the pool's handle: it must not keep the
  // members and consumers of a stopped pool alive.
  handles.clear();
  consumer_ids.clear();
  consumer_addrs.clear();
}

} // namespace pooler
