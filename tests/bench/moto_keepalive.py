#!/usr/bin/env python3
"""moto's DynamoDB, served with HTTP/1.1 keep-alive, for the pipeline benchmark.

    python3 moto_keepalive.py PORT     serves on 127.0.0.1:PORT until killed

moto_server runs moto's WSGI app under werkzeug's development server, which
answers every request with "Connection: close": each request of every
writer then opens a new TCP connection. DynamoDB keeps connections open, and
both boto3 (urllib3's pool) and tweetmatch (libcurl's connection cache)
reuse them. This is the same moto application (the same DynamoDB logic and
the same Python cost per request) behind a small HTTP/1.1 server that keeps
the connection open, so the benchmark measures the writers as they run
against DynamoDB. pipeline.py --ddb-server moto_server measures them against
moto_server itself.
"""
import http.server
import io
import socket
import sys

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

APP = DomainDispatcherApplication(create_backend_app)
SKIP_HEADERS = {"content-length", "connection", "transfer-encoding", "keep-alive"}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle_wsgi(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        environ = {
            "REQUEST_METHOD": self.command, "SCRIPT_NAME": "", "PATH_INFO": path, "QUERY_STRING": query,
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": str(self.server.server_address[1]),
            "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": self.client_address[0],
            "CONTENT_LENGTH": str(length), "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr, "wsgi.multithread": True, "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for k, v in self.headers.items():
            key = k.upper().replace("-", "_")
            if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                environ["HTTP_" + key] = v
        started = {}

        def start_response(status, headers, exc_info=None):
            started["status"], started["headers"] = status, headers
            return lambda data: None

        result = APP(environ, start_response)
        try:
            data = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        code, _, reason = started["status"].partition(" ")
        self.send_response(int(code), reason)
        for k, v in started["headers"]:
            if k.lower() not in SKIP_HEADERS:
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        # Head and body in one write: two small writes on a kept connection
        # meet Nagle's algorithm and the client's delayed ACK (40 ms each).
        self._headers_buffer.append(b"\r\n")
        if self.command != "HEAD":
            self._headers_buffer.append(data)
        self.flush_headers()

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = handle_wsgi

    def log_message(self, fmt, *args):
        pass


def main(argv):
    if len(argv) != 2:
        print("usage: moto_keepalive.py PORT", file=sys.stderr)
        return 2
    server = http.server.ThreadingHTTPServer(("127.0.0.1", int(argv[1])), Handler)
    server.daemon_threads = True
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
