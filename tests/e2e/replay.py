#!/usr/bin/env python3
"""replay.py: a local replay of recorded tweets as a long-lived stream.

    python3 tests/e2e/replay.py FILE... [--port N] [--keepalive-seconds S]

Serves the lines of the NDJSON FILEs, in order, on 127.0.0.1 as the fake
Twitter stream server does (tests/stream/fake_stream.py: chunked HTTP/1.1,
CRLF-ended lines), then keeps the connection open with a keep-alive (a blank
line) every S seconds, as Twitter's stream stays open. A reconnecting client
is held open without a replay, so a tweet is read once. Prints the stream's
URL on the first line of stdout; runs until killed, or until its parent
process exits.

fake_stream.py --serve ends each connection after the file and serves the
whole file again to the next one; a daemon reconnecting after that end would
read every tweet again. This wrapper uses the same server's scripted mode
instead.
"""
import argparse
import ctypes
import os
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "stream"))
import fake_stream  # noqa: E402


def main(argv):
    ap = argparse.ArgumentParser(description="replay NDJSON files as one long-lived stream")
    ap.add_argument("files", nargs="+")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--keepalive-seconds", type=float, default=5)
    a = ap.parse_args(argv)
    lines = []
    for path in a.files:
        with open(path, encoding="utf-8") as f:
            lines += [l.rstrip("\r\n") for l in f if l.strip()]
    steps = [{"respond": 200}, {"lines": lines}]
    for _ in range(int(24 * 3600 / a.keepalive_seconds)):
        steps += [{"sleep_ms": int(a.keepalive_seconds * 1000)}, {"keepalive": 1}]
    srv = fake_stream.Server({"port": a.port, "stream_path": "/stream", "connections": [steps]}).start()
    try:  # die with the parent (a demo killed hard leaves no server behind)
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(srv.url(), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        srv.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
