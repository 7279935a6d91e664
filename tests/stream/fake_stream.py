#!/usr/bin/env python3
"""A fake Twitter stream server for the stream client's tests (stdlib only).

It listens on 127.0.0.1 and speaks HTTP/1.1 the way Twitter's streams do: a
200 with a chunked body that never ends on its own, one JSON message per
line ended by \\r\\n, blank lines as keep-alives. Each connection to the
stream path plays the next entry of a script, so a test can lay out what
every (re)connection meets. Steps of a connection script:

  {"respond": 200, "gzip": false, "headers": {...}}   start the chunked answer
  {"respond": 420, "json": {...} | "text": "..."}    an error answer, then close
  {"lines": [...], "split": "whole"|"bytes"|"random", "seed": 1, "max_chunk": 2048}
  {"raw": "bytes as text", "split": ...}             bytes as they are
  {"tweets": {"count": N, "seed": S, "first_id": K}, "split": "random", ...}
  {"big_line": N}                                    one N-byte JSON line
  {"keepalive": N}                                   N blank lines, a chunk each
  {"sleep_ms": N}                                    pause (a stall when long)
  {"drop": true}                                     close at once, mid-message if so
  {"end": true}                                      the last chunk, then close
  {"hold": true}                                     stay open, silent, until the client goes
  {"close_now": true}                                close without any answer
                                                     (after "respond": headers, then close)
  {"raw_bytes_hex": "7b22..."}                       body bytes given in hex (NUL, 0xFF, ...)
  {"huge_line": N, "piece": 1048576, "id_str": "huge"}
                                                     one N-byte JSON line (CRLF not counted)
                                                     sent a piece per chunk, never held whole
  {"bad_chunk": "size", "size_line": "zz", "data": "..."}
                                                     a chunk whose size line is not hex
  {"bad_chunk": "overrun", "declared": N, "data": "..."}
                                                     a chunk longer than its size says
  {"bad_chunk": "truncated", "declared": N, "data": "..."}
                                                     a chunk shorter than its size, then close

"split" cuts the bytes into HTTP chunks: "whole" one chunk per step,
"bytes" one chunk per byte, "random" chunks of 1..max_chunk bytes (seeded),
so messages cross chunk boundaries at any byte. With gzip the body is
compressed as one stream (flushed at each step) and the compressed bytes are
cut the same way. When the script runs out, a connection gets "after"
("hold" by default, or "close_now").

It checks credentials like Twitter: an OAuth 1.0a HMAC-SHA1 signature
recomputed over the request (method, URL, query, form body, oauth_*), or the
bearer token; a bad one gets 401 with Twitter's JSON error. The v2 rules
endpoints (GET and POST <stream path>/rules, add and delete) keep their
rules in memory. Every request is recorded (method, path, query, headers,
body, auth verdict).

TLS: Server(script, tls=(certfile, keyfile)) (or "tls": [cert, key] in the
script) serves https on the same port; url() then says https. A handshake
the client refuses (an untrusted certificate) is recorded in tls_errors and
plays no step. make_cert() makes a throwaway certificate with the openssl
command line (no network), self-signed for the names given.

"bad_chunk" breaks the chunked encoding itself (written as is, past gzip):
"size" sends a size line that is not hex ("zz" by default), "overrun" a
chunk with more data than declared (by default half of it), "truncated" a
chunk with less (by default twice as much declared) and closes at once.

Run alone it serves a file as one long stream (for the benchmark):
  python3 fake_stream.py --serve FILE [--port N] [--chunk N] [--tls CERT KEY]
prints the URL, and serves each connection the file's lines, then ends.
"""

import base64
import hashlib
import hmac
import json
import random
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
import zlib

V1_AUTH_ERROR = {"errors": [{"code": 32, "message": "Could not authenticate you."}]}
V2_AUTH_ERROR = {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}


def enc(s):
    return urllib.parse.quote(s, safe="-._~")


def oauth_signature(method, url, params, consumer_secret, token_secret):
    pairs = sorted((enc(k), enc(v)) for k, v in params)
    ps = "&".join("%s=%s" % kv for kv in pairs)
    base = "&".join([method.upper(), enc(url), enc(ps)])
    key = enc(consumer_secret) + "&" + enc(token_secret)
    return base64.b64encode(hmac.new(key.encode(), base.encode(), hashlib.sha1).digest()).decode()


def parse_oauth_header(value):
    if not value.startswith("OAuth "):
        return None
    out = {}
    for part in value[6:].split(","):
        part = part.strip()
        if "=" not in part:
            return None
        k, v = part.split("=", 1)
        if not (v.startswith('"') and v.endswith('"')):
            return None
        out[urllib.parse.unquote(k)] = urllib.parse.unquote(v[1:-1])
    return out


def tweet(i, rng, v2=False):
    """A deterministic tweet with id i, of varied length and content."""
    words = ["cloud", "computing", "serverless", "lambda", "dynamo", "stream", "naïve", "café", "日本語",
             "emoji 😀", 'quote \\"x\\"', "slash \\/", "tab\\t", "newline\\n", "unicode \\u00e9"]
    n = rng.randint(1, 60)
    text = " ".join(rng.choice(words) for _ in range(n))
    pad = "x" * rng.randint(0, 3000)
    if v2:
        return ('{"data":{"id":"%d","text":"%s","author_id":"7","created_at":"2022-10-10T20:00:00.000Z"},'
                '"includes":{"users":[{"id":"7","username":"u%d"}]},"pad":"%s",'
                '"matching_rules":[{"id":"1","tag":"tweetmatch"}]}' % (i, text, i, pad))
    return ('{"created_at":"Wed Oct 10 20:19:24 +0000 2018","id":%d,"id_str":"%d","text":"%s",'
            '"user":{"screen_name":"u%d"},"pad":"%s"}' % (i, i, text, i, pad))


def tweets(spec, v2=False):
    rng = random.Random(spec.get("seed", 1))
    first = spec.get("first_id", 1)
    return [tweet(first + k, rng, v2) for k in range(spec["count"])]


def cut(data, step):
    split = step.get("split", "whole")
    if split == "whole" or not data:
        return [data] if data else []
    if split == "bytes":
        return [data[i:i + 1] for i in range(len(data))]
    rng = random.Random(step.get("seed", 7))
    hi = step.get("max_chunk", 2048)
    out, i = [], 0
    while i < len(data):
        n = rng.randint(1, hi)
        out.append(data[i:i + n])
        i += n
    return out


def make_cert(directory, names=("127.0.0.1", "localhost"), name="server"):
    """A self-signed certificate for names (IP addresses or DNS names) made
    by the openssl command line; returns (certfile, keyfile). It is its own
    CA: a client trusts it only when given the certificate file."""
    cert = os.path.join(directory, name + ".pem")
    key = os.path.join(directory, name + ".key")
    san = ",".join(("IP:" if n.replace(".", "").isdigit() else "DNS:") + n for n in names)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=%s" % names[0],
                    "-addext", "subjectAltName=" + san, "-addext", "basicConstraints=critical,CA:TRUE"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


class Server:
    def __init__(self, script=None, serve_file=None, chunk=16384, tls=None):
        self.script = script or {}
        tls = tls or self.script.get("tls")
        self.tls = None
        self.tls_errors = []
        if tls:
            self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls.load_cert_chain(tls[0], tls[1])
        self.serve_file = serve_file
        self.serve_chunk = chunk
        self.records = []
        self.lock = threading.Lock()
        self.conn_index = 0
        self.rules = [dict(r) for r in self.script.get("rules", [])]
        self.next_rule_id = 1000
        self.stream_path = self.script.get("stream_path", "/stream")
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.script.get("port", 0)))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.clients = []
        self.thread = threading.Thread(target=self.accept_loop, daemon=True)

    def url(self, path=None):
        return "%s://127.0.0.1:%d%s" % ("https" if self.tls else "http", self.port,
                                        path if path is not None else self.stream_path)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stopping = True
        try:
            self.sock.close()
        except OSError:
            pass
        for c in list(self.clients):
            try:
                c.shutdown(socket.SHUT_RDWR)
                c.close()
            except OSError:
                pass

    def accept_loop(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.clients.append(c)
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    # ---- requests ----

    def read_request(self, c):
        data = b""
        while b"\r\n\r\n" not in data:
            got = c.recv(65536)
            if not got:
                return None
            data += got
        head, rest = data.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {}
        for l in lines[1:]:
            k, v = l.split(":", 1)
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0"))
        while len(rest) < n:
            got = c.recv(65536)
            if not got:
                break
            rest += got
        path, _, query = target.partition("?")
        return {"method": method, "path": path, "query": query, "headers": headers,
                "body": rest[:n].decode("utf-8", "replace"), "t": time.time()}

    def check_auth(self, req):
        auth = self.script.get("auth")
        if not auth:
            return True, None
        got = req["headers"].get("authorization", "")
        if auth["mode"] == "bearer":
            return got == "Bearer " + auth["bearer_token"], V2_AUTH_ERROR
        params = parse_oauth_header(got)
        if params is None:
            return False, V1_AUTH_ERROR
        sig = params.pop("oauth_signature", "")
        url = ("https://" if self.tls else "http://") + req["headers"].get("host", "") + req["path"]
        pairs = list(params.items())
        pairs += urllib.parse.parse_qsl(req["query"], keep_blank_values=True)
        if req["headers"].get("content-type", "").startswith("application/x-www-form-urlencoded"):
            pairs += urllib.parse.parse_qsl(req["body"], keep_blank_values=True)
        want = oauth_signature(req["method"], url, pairs, auth["consumer_secret"], auth["token_secret"])
        ok = (hmac.compare_digest(sig, want) and params.get("oauth_consumer_key") == auth["consumer_key"]
              and params.get("oauth_token") == auth["token"] and params.get("oauth_signature_method") == "HMAC-SHA1"
              and params.get("oauth_version") == "1.0" and len(params.get("oauth_nonce", "")) >= 8
              and params.get("oauth_timestamp", "").isdigit())
        if "timestamp" in auth and params.get("oauth_timestamp") != str(auth["timestamp"]):
            ok = False
        return ok, V1_AUTH_ERROR

    def record(self, req, **extra):
        req.update(extra)
        with self.lock:
            self.records.append(req)

    def serve(self, c):
        try:
            if self.tls is not None:
                raw = c
                c.settimeout(10)
                try:
                    c = self.tls.wrap_socket(raw, server_side=True)
                except (ssl.SSLError, OSError) as e:
                    with self.lock:
                        self.tls_errors.append(str(e))
                    return
                finally:
                    if raw in self.clients:
                        self.clients.remove(raw)
                self.clients.append(c)
                c.settimeout(None)
            req = self.read_request(c)
            if req is None:
                return
            if self.serve_file:
                self.record(req)
                return self.serve_whole_file(c)
            ok, err = self.check_auth(req)
            if not ok and self.script.get("echo_auth_in_errors"):
                err = {"errors": [{"code": 32, "message": "Could not authenticate you: got %s"
                                   % req["headers"].get("authorization", "")}]}
            self.record(req, auth_ok=ok)
            if req["path"] == self.stream_path + "/rules":
                if not ok:
                    return self.answer(c, 401, err)
                return self.rules_endpoint(c, req)
            if req["path"] != self.stream_path:
                return self.answer(c, 404, {"errors": [{"code": 34, "message": "Sorry, that page does not exist."}]})
            if not ok:
                return self.answer(c, 401, err)
            with self.lock:
                i = self.conn_index
                self.conn_index += 1
            conns = self.script.get("connections", [])
            steps = conns[i] if i < len(conns) else [{self.script.get("after", "hold"): True}]
            self.play(c, steps)
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass
        finally:
            try:
                c.close()
            except OSError:
                pass
            if c in self.clients:
                self.clients.remove(c)

    def answer(self, c, status, body, headers=None):
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
            ctype = "application/json"
        else:
            data = (body or "").encode()
            ctype = "text/plain"
        head = "HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n" % (
            status, ctype, len(data))
        for k, v in (headers or {}).items():
            head += "%s: %s\r\n" % (k, v)
        c.sendall(head.encode() + b"\r\n" + data)

    # ---- v2 rules ----

    def rule_json(self, r):
        out = {"id": int(r["id"]) if self.script.get("rule_ids_numeric") else str(r["id"]), "value": r["value"]}
        if r.get("tag") is not None:
            out["tag"] = r["tag"]
        return out

    def rules_endpoint(self, c, req):
        forced = self.script.get("rules_status", {}).get(req["method"])
        if forced:
            return self.answer(c, forced, {"title": "Service Unavailable", "detail": "rules are down", "status": forced})
        meta = {"sent": "2022-10-10T20:00:00.000Z"}
        if req["method"] == "GET":
            with self.lock:
                data = [self.rule_json(r) for r in self.rules]
            meta["result_count"] = len(data)
            return self.answer(c, 200, dict({"data": data} if data else {}, meta=meta))
        doc = json.loads(req["body"])
        if "delete" in doc:
            ids = doc["delete"]["ids"]
            if not all(isinstance(i, str) for i in ids):
                return self.answer(c, 400, {"title": "Invalid Request", "detail": "ids must be strings"})
            with self.lock:
                before = len(self.rules)
                self.rules = [r for r in self.rules if str(r["id"]) not in ids]
                n = before - len(self.rules)
            meta["summary"] = {"deleted": n, "not_deleted": len(ids) - n}
            return self.answer(c, 200, {"meta": meta})
        adds = doc.get("add", [])
        refuse = set(self.script.get("refuse_values", []))
        invalid = [a for a in adds if a["value"] in refuse]
        if invalid:
            errs = [{"value": a["value"], "details": ["Rules must contain a keyword or phrase"],
                     "title": "UnprocessableEntity", "type": "https://api.twitter.com/2/problems/invalid-rules"}
                    for a in invalid]
            meta["summary"] = {"created": 0, "not_created": len(adds), "valid": len(adds) - len(invalid),
                               "invalid": len(invalid)}
            return self.answer(c, 400, {"errors": errs, "meta": meta})
        created, errs = [], []
        with self.lock:
            for a in adds:
                dup = [r for r in self.rules if r["value"] == a["value"]]
                if dup:
                    errs.append({"value": a["value"], "id": str(dup[0]["id"]), "title": "DuplicateRule",
                                 "type": "https://api.twitter.com/2/problems/duplicate-rules"})
                    continue
                self.next_rule_id += 1
                r = {"id": str(self.next_rule_id), "value": a["value"], "tag": a.get("tag")}
                self.rules.append(r)
                created.append(self.rule_json(r))
        meta["summary"] = {"created": len(created), "not_created": len(errs), "valid": len(adds), "invalid": 0}
        body = {"meta": meta}
        if created:
            body["data"] = created
        if errs:
            body["errors"] = errs
        return self.answer(c, 201, body)

    # ---- the stream ----

    def play(self, c, steps):
        z = None
        v2 = self.script.get("v2_tweets", False)

        def send_chunks(data, step):
            pieces = cut(data, step)
            out = bytearray()
            for p in pieces:
                out += b"%x\r\n" % len(p) + p + b"\r\n"
                if len(out) >= 65536:
                    c.sendall(bytes(out))
                    out.clear()
            if out:
                c.sendall(bytes(out))

        def body(data, step):
            if z is not None:
                data = z.compress(data) + z.flush(zlib.Z_SYNC_FLUSH)
            send_chunks(data, step)

        for step in steps:
            if "respond" in step:
                status = step["respond"]
                if status != 200:
                    if "json" in step:
                        return self.answer(c, status, step["json"], step.get("headers"))
                    return self.answer(c, status, step.get("text", ""), step.get("headers"))
                head = "HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n" \
                       "Transfer-Encoding: chunked\r\nConnection: close\r\n"
                if step.get("gzip"):
                    head += "Content-Encoding: gzip\r\n"
                    z = zlib.compressobj(6, zlib.DEFLATED, 31)
                for k, v in step.get("headers", {}).items():
                    head += "%s: %s\r\n" % (k, v)
                c.sendall(head.encode() + b"\r\n")
            elif "lines" in step:
                body("".join(l + "\r\n" for l in step["lines"]).encode(), step)
            elif "raw" in step:
                body(step["raw"].encode(), step)
            elif "tweets" in step:
                body("".join(t + "\r\n" for t in tweets(step["tweets"], v2)).encode(), step)
            elif "big_line" in step:
                n = step["big_line"]
                line = '{"id_str":"big","text":"' + "y" * (n - 27) + '"}'
                body((line + "\r\n").encode(), step)
            elif "raw_bytes_hex" in step:
                body(bytes.fromhex(step["raw_bytes_hex"]), step)
            elif "huge_line" in step:
                n, piece = step["huge_line"], step.get("piece", 1 << 20)
                head = ('{"id_str":"%s","text":"' % step.get("id_str", "huge")).encode()
                fill = n - len(head) - 2
                body(head, {"split": "whole"})
                while fill > 0:
                    k = min(piece, fill)
                    body(b"y" * k, {"split": "whole"})
                    fill -= k
                body(b'"}\r\n', {"split": "whole"})
            elif "bad_chunk" in step:
                kind, data = step["bad_chunk"], step.get("data", "").encode()
                if kind == "size":
                    c.sendall(step.get("size_line", "zz").encode() + b"\r\n" + data + b"\r\n")
                elif kind == "overrun":
                    c.sendall(b"%x\r\n" % step.get("declared", max(1, len(data) // 2)) + data + b"\r\n")
                elif kind == "truncated":
                    c.sendall(b"%x\r\n" % step.get("declared", 2 * len(data) + 1) + data)
                    c.shutdown(socket.SHUT_RDWR)
                    return
                else:
                    raise ValueError("bad_chunk: unknown kind %r" % kind)
            elif "keepalive" in step:
                for _ in range(step["keepalive"]):
                    body(b"\r\n", {"split": "whole"})
            elif "sleep_ms" in step:
                time.sleep(step["sleep_ms"] / 1000.0)
            elif "drop" in step:
                c.shutdown(socket.SHUT_RDWR)
                return
            elif "end" in step:
                if z is not None:
                    send_chunks(z.flush(zlib.Z_FINISH), {"split": "whole"})
                c.sendall(b"0\r\n\r\n")
                return
            elif "close_now" in step:
                return
            elif "hold" in step:
                c.settimeout(0.2)
                while not self.stopping:
                    try:
                        if not c.recv(4096):
                            return
                    except socket.timeout:
                        continue
                return

    # ---- the benchmark ----

    def serve_whole_file(self, c):
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n" \
               b"Connection: close\r\n\r\n"
        c.sendall(head)
        c.sendall(self.serve_file_chunked)
        c.sendall(b"0\r\n\r\n")


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description="fake Twitter stream server")
    ap.add_argument("--serve", required=True, help="NDJSON file to serve as a stream")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--chunk", type=int, default=16384, help="HTTP chunk size in bytes")
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"), help="serve https with this certificate and key")
    a = ap.parse_args(argv)
    with open(a.serve, "rb") as f:
        data = f.read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    out = bytearray()
    for i in range(0, len(data), a.chunk):
        p = data[i:i + a.chunk]
        out += b"%x\r\n" % len(p) + p + b"\r\n"
    s = Server({"port": a.port}, serve_file=True, tls=a.tls)
    s.serve_file_chunked = bytes(out)
    s.start()
    print(s.url("/stream"), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main(sys.argv[1:])
