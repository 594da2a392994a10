// A Redis connection pool: members of
// examples/redis_connection.cpp against a redis-server that the test starts
// on a free port of 127.0.0.1 and stops again. Every wait is on a reply, a
// down message or a bounded poll.

#include "pool_fixture.hpp"

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <arpa/inet.h>
#include <csignal>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "redis_connection.hpp"

using namespace test;
using pooler::member_status;
using redis_example::redis_cmd_atom;
using redis_example::redis_errc;

namespace {

[[maybe_unused]] const bool quiet = [] {
  return ::setenv("POOLER_QUIET", "1", 1) == 0;
}();

// A port of 127.0.0.1 that nobody listened on a moment ago.
uint16_t free_port() {
  auto fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  auto* sa = reinterpret_cast<sockaddr*>(&addr);
  REQUIRE(::bind(fd, sa, len) == 0);
  REQUIRE(::getsockname(fd, sa, &len) == 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string find_in_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    auto end = dirs.find(':', start);
    if (end == std::string::npos)
      end = dirs.size();
    auto candidate = dirs.substr(start, end - start) + "/" + program;
    if (::access(candidate.c_str(), X_OK) == 0)
      return candidate;
    start = end + 1;
  }
  return {};
}

// Name (comm) of a process, or "" when it is gone.
std::string comm_of(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/comm"};
  std::string name;
  std::getline(in, name);
  return name;
}

// Children of this process with that name, zombies included.
std::vector<pid_t> children_named(const std::string& name) {
  std::vector<pid_t> res;
  auto dir = ::opendir("/proc");
  if (dir == nullptr)
    return res;
  while (auto entry = ::readdir(dir)) {
    auto pid = static_cast<pid_t>(std::atol(entry->d_name));
    if (pid <= 0)
      continue;
    std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
    std::string line;
    if (!std::getline(in, line))
      continue;
    auto pos = line.rfind(')');
    if (pos == std::string::npos || pos + 4 >= line.size())
      continue;
    auto ppid = static_cast<pid_t>(std::atol(line.c_str() + pos + 4));
    if (ppid == ::getpid() && comm_of(pid) == name)
      res.push_back(pid);
  }
  ::closedir(dir);
  return res;
}

// True once a PING on a fresh connection gets PONG.
bool answers_ping(uint16_t port) {
  timeval tv{0, 200 * 1000};
  auto ctx = redisConnectWithTimeout("127.0.0.1", port, tv);
  bool ok = false;
  if (ctx != nullptr && ctx->err == 0) {
    redisSetTimeout(ctx, tv);
    if (auto r = static_cast<redisReply*>(redisCommand(ctx, "PING"))) {
      ok = r->type == REDIS_REPLY_STATUS && std::string(r->str) == "PONG";
      freeReplyObject(r);
    }
  }
  if (ctx != nullptr)
    redisFree(ctx);
  return ok;
}

/// A redis-server child process on 127.0.0.1 without persistence.
class redis_server {
public:
  redis_server() {
    auto program = find_in_path("redis-server");
    REQUIRE_MESSAGE(!program.empty(), "redis-server not found in PATH");
    // A port taken between free_port() and the server's bind makes the server
    // exit at once: try another one.
    for (int attempt = 0; attempt < 5 && pid_ == 0; ++attempt)
      try_start(program, free_port());
    REQUIRE_MESSAGE(pid_ != 0, "redis-server did not start");
  }

  ~redis_server() {
    stop();
  }

  redis_server(const redis_server&) = delete;
  redis_server& operator=(const redis_server&) = delete;

  uint16_t port() const {
    return port_;
  }

  pid_t pid() const {
    return pid_;
  }

  /// SIGTERM, then waitpid (SIGKILL after 10 s). True if it ended by SIGTERM.
  bool stop() {
    if (pid_ == 0)
      return true;
    ::kill(pid_, SIGTERM);
    auto ok = reap(10s);
    if (!ok) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    pid_ = 0;
    return ok;
  }

private:
  void try_start(const std::string& program, uint16_t port) {
    auto port_text = std::to_string(port);
    std::vector<std::string> args{program,   "--port",       port_text,
                                  "--bind",  "127.0.0.1",    "--save",
                                  "",        "--appendonly", "no",
                                  "--daemonize", "no",       "--loglevel",
                                  "warning"};
    std::vector<char*> argv;
    for (auto& x : args)
      argv.push_back(x.data());
    argv.push_back(nullptr);
    auto parent = ::getpid();
    auto pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      // Only async-signal-safe calls between fork and exec. The server dies
      // with the thread that forked it, should the test itself crash.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent)
        ::_exit(127);
      auto null = ::open("/dev/null", O_WRONLY);
      if (null >= 0)
        ::dup2(null, STDOUT_FILENO);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    pid_ = pid;
    port_ = port;
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (answers_ping(port))
        return;
      if (::waitpid(pid, nullptr, WNOHANG) == pid)
        break; // exited: most likely the port was taken
      std::this_thread::sleep_for(10ms);
    }
    if (::waitpid(pid, nullptr, WNOHANG) == 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    pid_ = 0;
  }

  // Waits for the child's end without blocking past `limit`.
  bool reap(std::chrono::milliseconds limit) {
    return eventually(
      [&] {
        auto res = ::waitpid(pid_, nullptr, WNOHANG);
        return res == pid_ || (res < 0 && errno == ECHILD);
      },
      limit);
  }

  pid_t pid_ = 0;
  uint16_t port_ = 0;
};

struct redis_config : config {
  redis_config() {
    redis_example::add_to(*this);
  }
};

struct redis_fixture {
  redis_server server; // first: outlives the actor system
  redis_config cfg;
  caf::actor_system sys{cfg};
  pooler::app app = *pooler::app::start(sys, {});
  caf::scoped_actor self{sys};

  ~redis_fixture() {
    app.stop();
  }

  redis_example::redis_endpoint endpoint() const {
    redis_example::redis_endpoint ep;
    ep.port = server.port();
    return ep;
  }

  pooler::pool_config redis_pool(std::string name, size_t init, size_t max) {
    pooler::pool_config cfg;
    cfg.name = std::move(name);
    cfg.init_count = init;
    cfg.max_count = max;
    cfg.start = redis_example::redis_connection_factory(endpoint());
    cfg.initialize = redis_example::redis_ping_hook();
    return cfg;
  }

  caf::expected<std::string> cmd(const caf::actor& m,
                                 std::vector<std::string> argv) {
    caf::expected<std::string> res = caf::sec::request_timeout;
    self->request(m, 20s, redis_cmd_atom::value, std::move(argv))
      .receive([&](std::string& r) { res = std::move(r); },
               [&](caf::error& e) { res = std::move(e); });
    return res;
  }

  // A command on some member of `pool`, which goes back `ok` afterwards.
  caf::expected<std::string> pooled(const std::string& pool,
                                    std::vector<std::string> argv) {
    return app.with_member(self, pool, 20s, [&](const caf::actor& m) {
      return cmd(m, std::move(argv));
    });
  }

  caf::error wait_down(const caf::actor& x) {
    caf::error reason = caf::sec::request_timeout;
    self->monitor(x);
    self->receive([&](caf::down_msg& dm) { reason = dm.reason; },
                  caf::after(20s) >> [] { FAIL("no down message within 20 s"); });
    return reason;
  }
};

} // namespace

TEST_CASE_FIXTURE(redis_fixture, "SET and GET go through the pool") {
  REQUIRE(app.new_pool(redis_pool("redis", 2, 4)));
  auto u = app.pool_utilization("redis");
  REQUIRE(u);
  CHECK(u->free_count == 2);
  CHECK(pooled("redis", {"SET", "greeting", "hello world"}) == std::string{"OK"});
  CHECK(pooled("redis", {"GET", "greeting"}) == std::string{"hello world"});
  CHECK(pooled("redis", {"INCR", "hits"}) == std::string{"1"});
  CHECK(pooled("redis", {"INCR", "hits"}) == std::string{"2"});
  CHECK(pooled("redis", {"RPUSH", "list", "a", "b"}) == std::string{"2"});
  CHECK(pooled("redis", {"LRANGE", "list", "0", "-1"})
        == std::string{R"(["a","b"])"});
  auto missing = pooled("redis", {"GET", "no such key"});
  REQUIRE(!missing);
  CHECK(missing.error() == redis_errc::nil_reply);
  // A server error fails the command, not the connection.
  auto wrong = app.take_member(self, "redis", 20s);
  REQUIRE(wrong);
  auto err = cmd(*wrong, {"INCR", "greeting"});
  REQUIRE(!err);
  CHECK(err.error() == redis_errc::command_failed);
  CHECK(redis_example::redis_error_detail(err.error()).find("not an integer")
        != std::string::npos);
  CHECK(sys.render(err.error()).find("command_failed") != std::string::npos);
  CHECK(cmd(*wrong, {"GET", "greeting"}) == std::string{"hello world"});
  app.return_member("redis", *wrong);
}

TEST_CASE_FIXTURE(redis_fixture, "a connection killed by CLIENT KILL is "
                                 "replaced and the next request succeeds") {
  REQUIRE(app.new_pool(redis_pool("redis", 1, 1)));
  REQUIRE(pooled("redis", {"SET", "k", "v1"}));
  auto m = app.take_member(self, "redis", 20s);
  REQUIRE(m);
  auto id = cmd(*m, {"CLIENT", "ID"});
  REQUIRE(id);
  app.return_member("redis", *m);
  // An administrator's connection, outside the pool, kills the member's.
  auto admin = redis_example::spawn_redis_connection(sys, endpoint());
  CHECK(cmd(admin, {"CLIENT", "KILL", "ID", *id}) == std::string{"1"});
  self->send_exit(admin, caf::exit_reason::user_shutdown);
  // The member notices on its next command: it fails that command and exits.
  auto same = app.take_member(self, "redis", 20s);
  REQUIRE(same);
  REQUIRE(*same == *m);
  auto lost = cmd(*m, {"GET", "k"});
  REQUIRE(!lost);
  CHECK(lost.error() == redis_errc::connection_lost);
  app.return_member("redis", *m, member_status::fail);
  CHECK(wait_down(*m) == redis_errc::connection_lost);
  // Our down message may come before the pool's; until the pool has seen its
  // own, it may still hand the dead member out (the reliability rules allow that much).
  REQUIRE(eventually(
    [&] {
      auto stats = app.pool_stats("redis");
      REQUIRE(stats);
      return stats->size() == 1 && stats->front().member != *m;
    },
    20s));
  // The pool replaced it; the next request succeeds on a new connection.
  CHECK(pooled("redis", {"GET", "k"}) == std::string{"v1"});
  auto next = app.take_member(self, "redis", 20s);
  REQUIRE(next);
  CHECK(*next != *m);
  auto next_id = cmd(*next, {"CLIENT", "ID"});
  REQUIRE(next_id);
  CHECK(*next_id != *id);
  app.return_member("redis", *next);
}

TEST_CASE_FIXTURE(redis_fixture, "a member that cannot connect exits with "
                                 "connect_failed and fails its start") {
  auto ep = endpoint();
  ep.port = free_port(); // nobody listens there
  auto m = redis_example::spawn_redis_connection(sys, ep);
  auto reason = wait_down(m);
  CHECK(reason == redis_errc::connect_failed);
  CHECK(redis_example::redis_error_detail(reason).find("127.0.0.1:")
        != std::string::npos);
  auto cfg = redis_pool("nowhere", 1, 1);
  cfg.start = redis_example::redis_connection_factory(ep);
  REQUIRE(app.new_pool(cfg)); // failed starts are dropped
  auto u = app.pool_utilization("nowhere");
  REQUIRE(u);
  CHECK(u->free_count == 0);
  CHECK(!app.take_member(self, "nowhere"));
}

TEST_CASE_FIXTURE(redis_fixture, "members fail with connection_lost when the "
                                 "server stops, and no server is left") {
  REQUIRE(app.new_pool(redis_pool("redis", 1, 1)));
  auto m = app.take_member(self, "redis", 20s);
  REQUIRE(m);
  CHECK(cmd(*m, {"PING"}) == std::string{"PONG"});
  auto pid = server.pid();
  CHECK(children_named("redis-server") == std::vector<pid_t>{pid});
  REQUIRE(server.stop());
  CHECK(comm_of(pid).empty());
  CHECK(children_named("redis-server").empty());
  auto lost = cmd(*m, {"PING"});
  REQUIRE(!lost);
  CHECK(lost.error() == redis_errc::connection_lost);
  CHECK(wait_down(*m) == redis_errc::connection_lost);
}
