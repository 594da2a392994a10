// A Redis connection as a pool member; see redis_connection.hpp for the
// protocol and why each member is a detached actor with a command timeout.

#include "redis_connection.hpp"

#include <memory>
#include <utility>

#include <caf/all.hpp>
#include <hiredis/hiredis.h>
#include <nlohmann/json.hpp>

namespace redis_example {

namespace {

std::string render_error(uint8_t code, caf::atom_value,
                         const caf::message& ctx) {
  auto res = "redis_error(" + to_string(static_cast<redis_errc>(code));
  if (ctx.match_elements<std::string>() && !ctx.get_as<std::string>(0).empty())
    res += ", \"" + ctx.get_as<std::string>(0) + "\"";
  return res + ")";
}

timeval to_timeval(caf::timespan x) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(x).count();
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(us / 1000000);
  tv.tv_usec = static_cast<suseconds_t>(us % 1000000);
  return tv;
}

struct reply_deleter {
  void operator()(redisReply* r) const {
    freeReplyObject(r);
  }
};

using reply_ptr = std::unique_ptr<redisReply, reply_deleter>;

std::string text_of(const redisReply* r) {
  return std::string(r->str, r->len);
}

nlohmann::json to_json(const redisReply* r) {
  switch (r->type) {
    case REDIS_REPLY_INTEGER:
      return r->integer;
    case REDIS_REPLY_NIL:
      return nullptr;
    case REDIS_REPLY_ARRAY: {
      auto xs = nlohmann::json::array();
      for (size_t i = 0; i < r->elements; ++i)
        xs.push_back(to_json(r->element[i]));
      return xs;
    }
    default: // string, status, error
      return text_of(r);
  }
}

caf::expected<std::string> decode(const redisReply* r) {
  switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
      return text_of(r);
    case REDIS_REPLY_INTEGER:
      return std::to_string(r->integer);
    case REDIS_REPLY_NIL:
      return make_error(redis_errc::nil_reply);
    case REDIS_REPLY_ERROR:
      return make_error(redis_errc::command_failed, text_of(r));
    default:
      return to_json(r).dump(-1, ' ', false,
                             nlohmann::json::error_handler_t::replace);
  }
}

struct redis_connection_state {
  static inline const char* name = "redis_connection";

  redisContext* ctx = nullptr;

  redis_connection_state() = default;
  redis_connection_state(const redis_connection_state&) = delete;
  redis_connection_state& operator=(const redis_connection_state&) = delete;

  ~redis_connection_state() {
    if (ctx != nullptr)
      redisFree(ctx);
  }

  // Connects; the error says why not.
  caf::error connect(const redis_endpoint& ep) {
    auto where = ep.host + ":" + std::to_string(ep.port) + ": ";
    ctx = redisConnectWithTimeout(ep.host.c_str(), ep.port,
                                  to_timeval(ep.connect_timeout));
    if (ctx == nullptr)
      return make_error(redis_errc::connect_failed, where + "out of memory");
    if (ctx->err != 0)
      return make_error(redis_errc::connect_failed, where + ctx->errstr);
    if (redisSetTimeout(ctx, to_timeval(ep.command_timeout)) != REDIS_OK)
      return make_error(redis_errc::connect_failed,
                        where + "cannot set the command timeout");
    return caf::none;
  }

  // Runs one command (blocking this actor's own thread).
  caf::expected<std::string> command(const std::vector<std::string>& argv) {
    if (argv.empty())
      return make_error(redis_errc::command_failed, "empty command");
    std::vector<const char*> args;
    std::vector<size_t> lens;
    for (auto& x : argv) {
      args.push_back(x.data());
      lens.push_back(x.size());
    }
    reply_ptr r{static_cast<redisReply*>(redisCommandArgv(
      ctx, static_cast<int>(args.size()), args.data(), lens.data()))};
    // No reply: hiredis marks the context as failed (EOF, reset, timeout),
    // and a failed context cannot be used again.
    if (!r)
      return make_error(redis_errc::connection_lost,
                        ctx->errstr[0] != '\0' ? ctx->errstr : "no reply");
    return decode(r.get());
  }
};

caf::behavior
redis_connection(caf::stateful_actor<redis_connection_state>* self,
                 redis_endpoint ep) {
  if (auto err = self->state.connect(ep)) {
    self->quit(std::move(err));
    return {};
  }
  return {
    [self](redis_cmd_atom, const std::vector<std::string>& argv) {
      auto rp = self->make_response_promise();
      auto res = self->state.command(argv);
      if (res) {
        rp.deliver(std::move(*res));
        return;
      }
      rp.deliver(res.error());
      // Answer first, then leave: the pool sees the exit and replaces us.
      if (res.error() == redis_errc::connection_lost)
        self->quit(std::move(res.error()));
    },
  };
}

} // namespace

std::string to_string(redis_errc x) {
  switch (x) {
    case redis_errc::connect_failed:
      return "connect_failed";
    case redis_errc::connection_lost:
      return "connection_lost";
    case redis_errc::command_failed:
      return "command_failed";
    case redis_errc::nil_reply:
      return "nil_reply";
  }
  return "unknown";
}

caf::error make_error(redis_errc x, std::string detail) {
  return caf::error{static_cast<uint8_t>(x), redis_error_category,
                    caf::make_message(std::move(detail))};
}

std::string redis_error_detail(const caf::error& err) {
  if (err.category() != redis_error_category
      || !err.context().match_elements<std::string>())
    return {};
  return err.context().get_as<std::string>(0);
}

void add_to(caf::actor_system_config& cfg) {
  cfg.add_error_category(redis_error_category, render_error);
}

caf::actor spawn_redis_connection(caf::actor_system& sys, redis_endpoint ep) {
  return sys.spawn<caf::detached>(redis_connection, std::move(ep));
}

pooler::member_factory redis_connection_factory(redis_endpoint ep) {
  return pooler::member_factory::function(
    [ep](caf::actor_system& sys) -> caf::expected<caf::actor> {
      return spawn_redis_connection(sys, ep);
    });
}

pooler::member_hook redis_ping_hook() {
  return pooler::member_hook::message(caf::make_message(
    redis_cmd_atom::value, std::vector<std::string>{"PING"}));
}

} // namespace redis_example
