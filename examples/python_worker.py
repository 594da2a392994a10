#!/usr/bin/env python3
"""A pooler external-process worker (see docs/pools.md).

Reads one JSON request per line from stdin:
    {"id": N, "command": "...", "args": ...}
and writes one JSON reply per line to stdout:
    {"id": N, "ok": true, "result": ...}  or  {"id": N, "ok": false, "error": "..."}
Exits on EOF of stdin.

Commands:
    ping              -> "pong"
    echo  <any>       -> its args
    add   [numbers]   -> their sum
    sleep <seconds>   -> sleeps in the main loop (a hung process), then the seconds
    delay <seconds>   -> replies after the seconds from a thread; other requests
                         are answered meanwhile, so replies come out of order
    fail  <text>      -> ok:false with the text as error
    crash             -> exits with status 3 without replying
    garbage           -> writes a reply line that is not JSON (but names the id)
    noise             -> writes a line that is no reply, then replies "ok"
    big   <n>         -> a string of n 'x'
    pid               -> os.getpid()
    incr              -> a per-process counter, incremented (session state)
    env   <name>      -> the environment variable, or null
    cwd               -> the working directory

Options:
    --ignore-term     ignore SIGTERM (tests that the parent escalates to SIGKILL)
"""

import json
import os
import signal
import sys
import threading
import time

_out = sys.stdout.buffer
_out_lock = threading.Lock()  # replies of `delay` threads are written concurrently
_counter = 0


def write_line(text):
    with _out_lock:
        _out.write(text.encode("utf-8") + b"\n")
        _out.flush()


def reply(req_id, result):
    write_line(json.dumps({"id": req_id, "ok": True, "result": result}))


def reply_error(req_id, error):
    write_line(json.dumps({"id": req_id, "ok": False, "error": error}))


def delayed_reply(req_id, seconds):
    time.sleep(seconds)
    reply(req_id, seconds)


def handle(req_id, command, args):
    global _counter
    if command == "ping":
        reply(req_id, "pong")
    elif command == "echo":
        reply(req_id, args)
    elif command == "add":
        reply(req_id, sum(args))
    elif command == "sleep":
        time.sleep(args)
        reply(req_id, args)
    elif command == "delay":
        threading.Thread(target=delayed_reply, args=(req_id, args), daemon=True).start()
    elif command == "fail":
        reply_error(req_id, str(args))
    elif command == "crash":
        os._exit(3)
    elif command == "garbage":
        write_line('{"id": %d, "ok": tru' % req_id)
    elif command == "noise":
        write_line("hello from the worker, this is not a reply")
        reply(req_id, "ok")
    elif command == "big":
        reply(req_id, "x" * int(args))
    elif command == "pid":
        reply(req_id, os.getpid())
    elif command == "incr":
        _counter += 1
        reply(req_id, _counter)
    elif command == "env":
        reply(req_id, os.environ.get(args))
    elif command == "cwd":
        reply(req_id, os.getcwd())
    else:
        reply_error(req_id, "unknown command: %s" % command)


def main():
    if "--ignore-term" in sys.argv[1:]:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    for raw in sys.stdin.buffer:
        try:
            req = json.loads(raw)
        except ValueError as e:
            reply_error(None, "bad request: %s" % e)
            continue
        req_id = req.get("id")
        try:
            handle(req_id, req.get("command"), req.get("args"))
        except Exception as e:  # a failing command must not end the worker
            reply_error(req_id, "%s: %s" % (type(e).__name__, e))


if __name__ == "__main__":
    main()
