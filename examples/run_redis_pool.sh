#!/usr/bin/env bash
# Runs the redis_pool example (the program given as $1) against a
# redis-server of its own on a free port of 127.0.0.1, then stops the server.
set -euo pipefail
program="$1"

pid=""
cleanup() {
  if [ -n "$pid" ]; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT

# A port may be taken between choosing it and the server's bind: the server
# then exits at once, and another port is tried.
for attempt in 1 2 3 4 5; do
  port=$((20000 + RANDOM % 40000))
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
    --daemonize no --loglevel warning >/dev/null &
  pid=$!
  for _ in $(seq 100); do          # up to 10 s
    if [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = "PONG" ]; then
      "$program" --host=127.0.0.1 --port="$port"
      exit $?
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  cleanup
  pid=""
done
echo "run_redis_pool: could not start redis-server" >&2
exit 1
