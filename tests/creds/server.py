#!/usr/bin/env python3
"""A scripted HTTP server for the credential tests (creds_test.c starts one per endpoint).

    server.py PLAN LOG

PLAN is a JSON file: {"/path": [response, ...], ...}. The requests to a path get its responses in
order; the last one repeats. Other paths get 404. A response is an object:
    status    HTTP status (default 200)
    json      a value sent as compact JSON, or
    body      the body text as is
    delay_ms  wait this long before answering (a slow endpoint)
Every request is appended to LOG as a JSON line, before the answer is sent:
{"method", "path", "headers": {lower-case name: value}, "body"}.

Prints the port it listens on (127.0.0.1, chosen by the system) as the first line of stdout. Exits
when stdin reaches its end (the test is gone) or after 60 s.
"""
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        routes = {path: list(resps) for path, resps in json.load(f).items()}
    log = open(sys.argv[2], "a", encoding="utf-8")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def answer(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n else b""
            with lock:
                log.write(json.dumps({"method": self.command, "path": self.path,
                                      "headers": {k.lower(): v for k, v in self.headers.items()},
                                      "body": body.decode("latin-1")}) + "\n")
                log.flush()
                queue = routes.get(self.path)
                if not queue:
                    resp = {"status": 404, "body": "no such path"}
                else:
                    resp = queue.pop(0) if len(queue) > 1 else queue[0]
            time.sleep(resp.get("delay_ms", 0) / 1000)
            if "json" in resp:
                out = json.dumps(resp["json"], separators=(",", ":")).encode()
            else:
                out = resp.get("body", "").encode()
            self.send_response(resp.get("status", 200))
            self.send_header("Content-Type", "application/json" if "json" in resp else "text/plain")
            self.send_header("Content-Length", str(len(out)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(out)

        do_GET = do_PUT = do_POST = answer

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request, client_address):
            pass  # a client that gave up waiting (the timeout cases)

    srv = Server(("127.0.0.1", 0), Handler)
    print(srv.server_address[1], flush=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()

    def watch_stdin():
        sys.stdin.buffer.read()
        os._exit(0)

    threading.Thread(target=watch_stdin, daemon=True).start()
    time.sleep(60)
    os._exit(0)


if __name__ == "__main__":
    main()
