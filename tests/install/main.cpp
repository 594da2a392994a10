// A program outside pooler's tree, built against an installed pooler (or
// pooler as a subdirectory): starts an app with one pool from a minimal
// config, takes a member, uses it and returns it. Exit status 0 on success.

#include <cstdlib>
#include <iostream>
#include <string>

#include <caf/all.hpp>

#include <pooler/pooler.hpp>

namespace {

using ping_atom = caf::atom_constant<caf::atom("ping")>;

caf::behavior echo(caf::event_based_actor*) {
  return {[](ping_atom, const std::string& x) { return x; }};
}

constexpr const char* minimal_config = R"(
[pooler]
pools=[{name="echo", init-count=1, max-count=2, start="echo"}]
)";

struct config : caf::actor_system_config {
  config() {
    pooler::add_to(*this);
    add_actor_type("echo", echo);
    set("logger.verbosity", caf::atom("quiet"));
  }
};

int fail(caf::actor_system& sys, const std::string& what,
         const caf::error& err) {
  std::cerr << "consumer: " << what << ": " << sys.render(err) << std::endl;
  return EXIT_FAILURE;
}

} // namespace

int main() {
  config cfg;
  caf::actor_system sys{cfg};
  auto pools = pooler::pools_from_ini(minimal_config);
  if (!pools)
    return fail(sys, "config", pools.error());
  auto app = pooler::app::start(sys, std::move(*pools));
  if (!app)
    return fail(sys, "start", app.error());
  caf::scoped_actor self{sys};
  auto member = app->take_member(self, "echo", std::chrono::seconds(5));
  if (!member)
    return fail(sys, "take_member", member.error());
  std::string reply;
  caf::error err;
  self->request(*member, std::chrono::seconds(5), ping_atom::value, "hello")
    .receive([&](std::string& x) { reply = std::move(x); },
             [&](caf::error& x) { err = std::move(x); });
  app->return_member("echo", *member);
  if (err)
    return fail(sys, "ping", err);
  // The return went to the pool's mailbox before this request.
  auto util = app->pool_utilization("echo");
  if (!util)
    return fail(sys, "pool_utilization", util.error());
  app->stop();
  if (reply != "hello" || util->in_use_count != 0 || util->free_count != 1) {
    std::cerr << "consumer: unexpected reply \"" << reply << "\", in use "
              << util->in_use_count << ", free " << util->free_count
              << std::endl;
    return EXIT_FAILURE;
  }
  std::cout << "consumer: pooler " << POOLER_VERSION_STRING
            << ": took, used and returned a member of pool \"echo\""
            << std::endl;
  return EXIT_SUCCESS;
}
