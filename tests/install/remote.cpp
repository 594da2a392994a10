// The scale-out library from outside pooler's tree: publishes an app's pool,
// connects to it through the middleman and takes a member there. Exit status
// 0 on success.

#include <cstdlib>
#include <iostream>
#include <string>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include <pooler/pooler.hpp>
#include <pooler/remote.hpp>

namespace {

caf::behavior idle(caf::event_based_actor*) {
  return {[](int32_t x) { return x; }};
}

struct config : caf::actor_system_config {
  config() {
    pooler::add_to(*this);
    load<caf::io::middleman>();
    set("logger.verbosity", caf::atom("quiet"));
  }
};

int fail(caf::actor_system& sys, const std::string& what,
         const caf::error& err) {
  std::cerr << "consumer_remote: " << what << ": " << sys.render(err)
            << std::endl;
  return EXIT_FAILURE;
}

} // namespace

int main() {
  config server_cfg;
  config client_cfg;
  caf::actor_system server{server_cfg};
  caf::actor_system client{client_cfg};
  pooler::pool_config pool;
  pool.name = "p";
  pool.init_count = 1;
  pool.max_count = 1;
  pool.start = pooler::member_factory::function(
    [](caf::actor_system& sys) -> caf::expected<caf::actor> {
      return sys.spawn(idle);
    });
  auto app = pooler::app::start(server, {pool});
  if (!app)
    return fail(server, "start", app.error());
  auto port = pooler::publish(*app, 0);
  if (!port)
    return fail(server, "publish", port.error());
  auto remote = pooler::connect(client, "127.0.0.1", *port);
  if (!remote)
    return fail(client, "connect", remote.error());
  caf::scoped_actor self{client};
  auto member = remote->take_member(self, "p", std::chrono::seconds(5));
  if (!member)
    return fail(client, "take_member", member.error());
  remote->return_member("p", *member);
  remote->stop();
  app->stop();
  std::cout << "consumer_remote: took and returned a member of pool \"p\" "
               "across nodes (port "
            << *port << ")" << std::endl;
  return EXIT_SUCCESS;
}
