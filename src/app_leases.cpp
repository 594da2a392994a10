// The app handle: safe use, with leases returned on every path.

#include "pooler/app.hpp"

#include <caf/all.hpp>

#include "src/app_state.hpp"

namespace pooler {

namespace detail {

caf::error error_from_exception(std::exception_ptr ep,
                                const std::string& pool) {
  try {
    std::rethrow_exception(ep);
  } catch (const std::exception& e) {
    return make_error(errc::function_threw, pool, e.what());
  } catch (...) {
    return make_error(errc::function_threw, pool, "unknown exception");
  }
}

} // namespace detail

caf::expected<lease> app::take_lease(caf::scoped_actor& self,
                                     const std::string& pool,
                                     caf::timespan timeout) {
  auto m = take_member(self, pool, timeout);
  if (!m)
    return std::move(m.error());
  return lease{*this, pool, std::move(*m)};
}

// -- shared lease -------------------------------------------------------------------------

struct shared_lease::impl {
  app owner;
  std::string pool;
  caf::actor member;
  caf::actor_addr consumer;
  std::atomic<bool> failed{false};
  std::atomic<uint64_t> requests{0};
  std::atomic<bool> released{false};

  void release(bool unwinding) {
    if (released.exchange(true))
      return;
    // A consumer that died (or is dying) holds the member no more: the pool
    // reclaims it on its down message, ok or fail by the exit reason. A
    // return sent now could overtake that message and put back ok a member
    // whose work a crash cut short.
    auto c = caf::actor_cast<caf::strong_actor_ptr>(consumer);
    // CAF marks a quitting actor shutting down before it drops its response
    // handlers (and with them the lease copies they hold).
    constexpr int ending = caf::abstract_actor::is_shutting_down_flag
                           | caf::abstract_actor::is_terminated_flag;
    if (!c || c->get()->getf(ending))
      return;
    auto s = failed || unwinding ? member_status::fail : member_status::ok;
    owner.return_member(pool, member, s, requests);
  }

  ~impl() {
    release(std::uncaught_exceptions() > 0);
  }
};

shared_lease::shared_lease(app a, std::string pool, caf::actor member,
                           caf::actor_addr consumer)
  : impl_(std::make_shared<impl>()) {
  impl_->owner = std::move(a);
  impl_->pool = std::move(pool);
  impl_->member = std::move(member);
  impl_->consumer = std::move(consumer);
}

const caf::actor& shared_lease::member() const noexcept {
  static const caf::actor none;
  return impl_ ? impl_->member : none;
}

void shared_lease::fail() noexcept {
  if (impl_)
    impl_->failed = true;
}

void shared_lease::count_request(uint64_t n) noexcept {
  if (impl_)
    impl_->requests += n;
}

void shared_lease::release() {
  if (impl_)
    impl_->release(false);
}

// -- lease -------------------------------------------------------------------------------

lease::lease(app a, std::string pool, caf::actor member)
  : app_(std::move(a)), pool_(std::move(pool)), member_(std::move(member)) {
}

lease::lease(lease&& other) noexcept
  : app_(std::move(other.app_)),
    pool_(std::move(other.pool_)),
    member_(std::move(other.member_)),
    failed_(other.failed_),
    requests_(other.requests_) {
  other.app_.reset();
}

lease& lease::operator=(lease&& other) noexcept {
  if (this != &other) {
    release();
    app_ = std::move(other.app_);
    pool_ = std::move(other.pool_);
    member_ = std::move(other.member_);
    failed_ = other.failed_;
    requests_ = other.requests_;
    other.app_.reset();
  }
  return *this;
}

lease::~lease() {
  release();
}

void lease::release() {
  if (!app_ || !member_)
    return;
  app_->return_member(pool_, member_,
                      failed_ ? member_status::fail : member_status::ok,
                      requests_);
  app_.reset();
}

} // namespace pooler
