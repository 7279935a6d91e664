"""faultproxy.py: a fault-injecting HTTP proxy in front of moto, for the
DynamoDB writer's tests.

It stands where DynamoDB's endpoint would (the writer's endpoint points at
it) and does what AWS does before moto sees a request:
  - checks every request as sent: a well-formed SigV4 Authorization whose
    signature verifies (awsjson.verify, with the secrets it was given),
    X-Amz-Date, X-Amz-Security-Token with session credentials, Host,
    Content-Type, X-Amz-Target, Accept-Encoding: identity, Content-Length,
    and no Expect, Accept or User-Agent. A request that fails a check is a
    "violation" (the tests require none) and is refused;
  - answers as AWS would: UnrecognizedClientException for an unknown key,
    InvalidSignatureException for a bad signature (quoting the canonical
    request, session token included, as AWS does) or for an X-Amz-Date more
    than 5 minutes off ("Signature expired"), AccessDeniedException for keys
    it is told to deny;
  - injects faults into the data-plane operations (BatchWriteItem, PutItem,
    DeleteItem) as its plan says: throttling, 500s, connection resets,
    partial UnprocessedItems, a wrong x-amz-crc32, ValidationException for
    items holding a "poison" attribute, ExpiredTokenException once, delays,
    and outages (every connection reset) for a time;
  - forwards the rest to moto, adding x-amz-crc32 when moto has none.
It counts what it did, so tests compare its counts with the writer's.
"""
import datetime
import http.client
import http.server
import json
import random
import socket
import struct
import threading
import time
import zlib

import awsjson

DATA_OPS = ("BatchWriteItem", "PutItem", "DeleteItem")
PREFIX = "com.amazonaws.dynamodb.v20120810#"


class Plan:
    """What to inject. Probabilities apply per data-plane request."""

    def __init__(self, **kw):
        self.throttle = 0.0
        self.e500 = 0.0
        self.reset = 0.0
        self.partial = 0.0
        self.bad_crc = 0.0
        self.seed = 1
        self.first_throttles = 0    # throttle the first N data requests
        self.first_bad_crc = 0      # wrong x-amz-crc32 on the first N data responses
        self.expired_once = False   # ExpiredTokenException on the first data request
        self.delay_s = 0.0          # before forwarding a data request
        self.down_after = None      # requests (any op) served before the outage
        self.down_for_s = None      # outage length; None: for ever
        self.deny_keys = ()         # AccessDeniedException for these access keys
        self.unprocessed_item = None  # (attr, value, times): return this item unprocessed N times
        # The mix spares a request (the same items) that already drew this
        # many faults, so no request can run out of the writer's 10 tries by
        # chance: a mix test then checks that nothing is lost, not luck.
        self.max_faults_per_request = 5
        for k, v in kw.items():
            if not hasattr(self, k):
                raise KeyError(k)
            setattr(self, k, v)


class Proxy:
    def __init__(self, upstream_port, keys, region="us-east-1", plan=None):
        """keys: {access_key: (secret, token or None)}."""
        self.upstream_port = upstream_port
        self.keys = dict(keys)
        self.region = region
        self.plan = plan or Plan()
        self.rng = random.Random(self.plan.seed)
        self.lock = threading.Lock()
        self.counts = {}
        self.violations = []
        self.log = []  # (op, access key, outcome, n_items)
        self.n_requests = 0
        self.n_data = 0
        self.connections = 0
        self.faults_of = {}  # request identity -> faults drawn
        self.tls = None      # an ssl.SSLContext: serve https
        self.down_since = None
        self.unprocessed_left = self.plan.unprocessed_item[2] if self.plan.unprocessed_item else 0
        self.local = threading.local()
        proxy = self

        class Handler(Handler_):
            pass

        Handler.proxy = proxy
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda req, addr: None
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    def start(self, tls_cert=None, tls_key=None):
        """tls_cert, tls_key: PEM files; then the proxy speaks https."""
        if tls_cert:
            import ssl
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(tls_cert, tls_key)
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def count(self, what, n=1):
        with self.lock:
            self.counts[what] = self.counts.get(what, 0) + n

    def get(self, what):
        with self.lock:
            return self.counts.get(what, 0)

    # -- upstream --

    def forward(self, target, body):
        conn = getattr(self.local, "conn", None)
        for attempt in range(2):
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=60)
                self.local.conn = conn
            try:
                conn.request("POST", "/", body, {
                    "Content-Type": "application/x-amz-json-1.0",
                    "X-Amz-Target": target,
                    # moto reads the region and account from here; it checks no signature.
                    "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDPROXY/20200101/%s/dynamodb/aws4_request, "
                                     "SignedHeaders=host, Signature=0" % self.region,
                })
                r = conn.getresponse()
                data = r.read()
                return r.status, data, r.getheader("x-amz-crc32")
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = None
                self.local.conn = None
                if attempt:
                    raise


def _error(kind, message):
    return json.dumps({"__type": PREFIX + kind, "message": message}).encode("utf-8")


class Handler_(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    proxy = None

    def log_message(self, *a):
        pass

    def setup(self):
        with self.proxy.lock:
            self.proxy.connections += 1
        super().setup()

    def handle(self):
        try:
            super().handle()
        except (OSError, ValueError):
            pass

    def finish(self):
        try:
            super().finish()
        except (OSError, ValueError):
            pass

    def version_string(self):
        return "faultproxy"

    def reply(self, status, body, crc=None, error_type=None):
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amz-crc32", str(zlib.crc32(body) if crc is None else crc))
        self.send_header("x-amzn-RequestId", "faultproxy-%d" % self.proxy.n_requests)
        if error_type:
            self.send_header("X-Amzn-ErrorType", error_type)
        self.end_headers()
        self.wfile.write(body)

    def fail(self, status, kind, message):
        self.proxy.count(kind)
        self.reply(status, _error(kind, message), error_type=kind)

    def reset(self):
        """Closes the connection with a TCP RST, no response."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    def do_GET(self):
        self.reset()

    def check(self, body):
        """Problems with the request as sent (violations)."""
        p = []
        h = self.headers
        want_host = "127.0.0.1:%d" % self.proxy.port
        if h.get_all("Host") != [want_host]:
            p.append("Host %r, expected %r" % (h.get_all("Host"), want_host))
        if h.get("Content-Type") != "application/x-amz-json-1.0":
            p.append("Content-Type %r" % h.get("Content-Type"))
        if not (h.get("X-Amz-Target") or "").startswith("DynamoDB_20120810."):
            p.append("X-Amz-Target %r" % h.get("X-Amz-Target"))
        if h.get("Accept-Encoding") != "identity":
            p.append("Accept-Encoding %r" % h.get("Accept-Encoding"))
        for banned in ("Expect", "Accept", "User-Agent", "Transfer-Encoding"):
            if h.get(banned) is not None:
                p.append("%s sent: %r" % (banned, h.get(banned)))
        if h.get("Content-Length") != str(len(body)):
            p.append("Content-Length %r for %d bytes" % (h.get("Content-Length"), len(body)))
        if self.path != "/":
            p.append("path %r" % self.path)
        return p

    def do_POST(self):
        px = self.proxy
        plan = px.plan
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        target = self.headers.get("X-Amz-Target") or ""
        op = target.rsplit(".", 1)[-1]
        with px.lock:
            px.n_requests += 1
            nreq = px.n_requests
            if plan.down_after is not None and nreq > plan.down_after and px.down_since is None:
                px.down_since = time.time()
            down = px.down_since is not None and (plan.down_for_s is None or
                                                   time.time() - px.down_since < plan.down_for_s)
        if down:
            px.count("down_reset")
            return self.reset()

        problems = self.check(body)
        headers = list(self.headers.items())
        ok, key, why, creq, sts = awsjson.verify("POST", self.path, headers, body, px.keys.get)
        if why == "unknown access key":
            px.log.append((op, key, "UnrecognizedClientException", 0))
            return self.fail(400, "UnrecognizedClientException", "The security token included in the request is invalid.")
        if not ok and why == "signature mismatch":
            px.count("bad_signature")
            px.log.append((op, key, "InvalidSignatureException", 0))
            msg = ("The request signature we calculated does not match the signature you provided. Check your AWS "
                   "Secret Access Key and signing method. Consult the service documentation for details.\n\n"
                   "The Canonical String for this request should have been\n'%s'\n\nThe String-to-Sign should "
                   "have been\n'%s'\n" % (creq, sts))
            return self.fail(400, "InvalidSignatureException", msg)
        if not ok:
            problems.append(why)
        if problems:
            with px.lock:
                px.violations.append("%s: %s" % (op, "; ".join(problems)))
            return self.fail(400, "IncompleteSignatureException", "; ".join(problems))
        # AWS refuses a signing time more than 5 minutes off ("Signature expired").
        amz = self.headers.get("X-Amz-Date")
        signed_at = datetime.datetime.strptime(amz, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
        now = datetime.datetime.now(datetime.timezone.utc)
        if abs((now - signed_at).total_seconds()) > 300:
            px.count("skew")
            px.log.append((op, key, "skew", 0))
            return self.fail(400, "InvalidSignatureException",
                             "Signature expired: %s is now earlier than %s (%s - 5 min.)"
                             % (amz, now.strftime("%Y%m%dT%H%M%SZ"),
                                (now - datetime.timedelta(minutes=5)).strftime("%Y%m%dT%H%M%SZ")))
        if key in plan.deny_keys:
            px.log.append((op, key, "AccessDeniedException", 0))
            return self.fail(400, "AccessDeniedException",
                             "User: arn:aws:iam::123456789012:user/test is not authorized to perform: "
                             "dynamodb:%s on resource: arn:aws:dynamodb:%s:123456789012:table/x" % (op, px.region))
        if op not in DATA_OPS:
            return self.pass_through(target, body, op, key)
        return self.data_op(target, body, op, key)

    def pass_through(self, target, body, op, key):
        status, data, crc = self.proxy.forward(target, body)
        self.proxy.log.append((op, key, status, 0))
        self.reply(status, data, crc=int(crc) if crc else None)

    def data_op(self, target, body, op, key):
        px, plan = self.proxy, self.proxy.plan
        doc = json.loads(body)
        if op == "BatchWriteItem":
            table, elems = next(iter(doc["RequestItems"].items()))
        else:
            table, elems = doc["TableName"], [doc]
        items = [e.get("PutRequest", {}).get("Item") or e.get("Item") for e in elems]
        with px.lock:
            px.n_data += 1
            ndata = px.n_data
            r = px.rng.random()
            r2 = px.rng.random()
            rsub = random.Random(px.rng.random())
        px.count("data_requests")
        px.count("items_received", len(elems))
        if plan.delay_s:
            time.sleep(plan.delay_s)
        if plan.expired_once and ndata == 1:
            px.log.append((op, key, "ExpiredTokenException", len(elems)))
            return self.fail(400, "ExpiredTokenException", "The security token included in the request is expired")
        if any(it and "poison" in it for it in items):
            px.log.append((op, key, "ValidationException", len(elems)))
            return self.fail(400, "ValidationException",
                             "One or more parameter values were invalid: poisoned item (%d in the request)" % len(elems))
        if ndata <= plan.first_throttles:
            px.log.append((op, key, "throttle", len(elems)))
            return self.fail(400, "ProvisionedThroughputExceededException",
                             "The level of configured provisioned throughput for the table was exceeded.")
        # The mix: one draw per request.
        edges = [("throttle", plan.throttle), ("e500", plan.e500), ("reset", plan.reset),
                 ("partial", plan.partial), ("bad_crc", plan.bad_crc)]
        fault, acc = None, 0.0
        for name, p in edges:
            acc += p
            if r < acc:
                fault = name
                break
        if fault:
            ident = json.dumps(sorted(json.dumps(it, sort_keys=True) for it in items if it))
            with px.lock:
                n = px.faults_of.get(ident, 0)
                if n >= plan.max_faults_per_request:
                    fault = None
                else:
                    px.faults_of[ident] = n + 1
        if ndata <= plan.first_bad_crc:
            fault = "bad_crc"
        if fault == "partial" and len(elems) < 2:
            fault = None
        px.log.append((op, key, fault or "ok", len(elems)))
        if fault == "throttle":
            return self.fail(400, "ProvisionedThroughputExceededException",
                             "The level of configured provisioned throughput for the table was exceeded. "
                             "Consider increasing your provisioning level with the UpdateTable API.")
        if fault == "e500":
            if r2 < 0.5:
                px.forward(target, body)  # written, and yet a 500
            return self.fail(500, "InternalServerError", "Internal server error")
        if fault == "reset":
            px.count("reset")
            if r2 < 0.5:
                px.forward(target, body)
            return self.reset()

        unprocessed = []
        if op == "BatchWriteItem":
            keep = list(elems)
            if fault == "partial":
                k = rsub.randint(1, len(elems) - 1)
                idx = set(rsub.sample(range(len(elems)), k))
                unprocessed = [e for i, e in enumerate(elems) if i in idx]
                keep = [e for i, e in enumerate(elems) if i not in idx]
                px.count("partial")
                px.count("unprocessed_items", len(unprocessed))
            if plan.unprocessed_item:
                attr, value, _ = plan.unprocessed_item
                for e in list(keep):
                    it = e.get("PutRequest", {}).get("Item", {})
                    if it.get(attr) == value and len(keep) + len(unprocessed) >= 1:
                        with px.lock:
                            left = px.unprocessed_left
                            if left > 0:
                                px.unprocessed_left -= 1
                        if left > 0:
                            keep.remove(e)
                            unprocessed.append(e)
                            px.count("unprocessed_items")
            if unprocessed:
                if keep:
                    status, data, crc = px.forward(target, json.dumps({"RequestItems": {table: keep}}).encode())
                    if status != 200:
                        return self.reply(status, data, crc=int(crc) if crc else None)
                out = json.dumps({"UnprocessedItems": {table: unprocessed}}).encode()
                return self.reply(200, out)
        status, data, crc = px.forward(target, body)
        crc = int(crc) if crc else zlib.crc32(data)
        if fault == "bad_crc":
            px.count("bad_crc")
            crc = (crc + 1) & 0xFFFFFFFF
        if status == 200:
            px.count("items_ok", len(elems))
        self.reply(status, data, crc=crc)
