#!/usr/bin/env python3
"""cases.py: the DynamoDB writer end to end, one ctest entry per case.

    cases.py --driver PATH --list        the case names
    cases.py --driver PATH CASE          runs one case; exit 0 when it passes

Each case starts its own moto_server on a free port of 127.0.0.1 (moto_ctl),
creates its table there, puts a fault-injecting proxy (faultproxy) in front
of it, and runs the C driver (driver.c: the real writer on the real event
loop) over a file of operations it generated. Then it checks:
  - the driver's exit status and, for start-up failures, its message;
  - every request as the proxy received it (signature, headers): no
    violation;
  - no secret (secret key, session token) in anything the driver printed or
    wrote;
  - the dead letters: one log line each, the same ones in DEADLETTER_FILE,
    with the expected reasons;
  - the counters: queued = written + dead letters, nothing left;
  - the table, scanned from moto, against what was sent: the operations
    applied in order, less the dead-lettered ones.
moto_server missing is a failure that says to install moto, not a skip.
"""
import argparse
import collections
import datetime
import decimal
import http.server
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import awsjson  # noqa: E402
from faultproxy import Plan, Proxy  # noqa: E402
from moto_ctl import INSTALL_HINT, Moto, die_with_parent, free_port  # noqa: E402

REGION = "us-east-1"
TLS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tls")
TABLE = "tweets"
# Test credentials: made-up values, distinctive so a leak is found by grep.
STATIC = ("AKIDSTATICTEST000001", "StaticSecretKey/ZZtopSECRET+0000000001", None)
SESSION = ("ASIASESSIONTEST00001", "SessionSecretKey/QQsecretVALUE+000002",
           "IQoJb3JpZ2luX2VjSESSIONTOKENsecretXYZ//////////wEaCXVzLWVhc3QtMSJHMEUCIQD=")
UNKNOWN = ("AKIDUNKNOWNTEST00001", "UnknownSecretKey/WWsecret+00000000003", None)
ECS_KEYS = {}  # filled by EcsServer
for _n in range(1, 6):
    ECS_KEYS["ASIAECSTEST%09d" % _n] = ("EcsSecret%d/RRsecret+0000000000%d" % (_n, _n),
                                        "EcsSessionToken%dSECRETtokenVALUE/abc%d=" % (_n, _n))


class Failure(Exception):
    pass


def check(cond, what, *detail):
    if not cond:
        raise Failure(what + ("".join("\n    " + str(d) for d in detail) if detail else ""))


# ---- items ----

WORDS = ("cloud computing serverless lambda dynamo table stream tweet rule lua match filter "
         "région 東京 café naïve 🚀 data api latency throughput").split()


def tweet_item(i, rng, key="id"):
    text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 40)))
    item = {
        key: {"S": str(1050118621198921728 + i)},
        "user": {"S": "user_%d" % rng.randrange(5000)},
        "date": {"S": "Wed Oct 10 20:19:%02d +0000 2018" % (i % 60)},
        "text": {"S": text},
        "lang": {"S": rng.choice(["en", "fr", "ja"])},
        "followers": {"N": str(rng.randrange(10 ** 7))},
        "retweet": {"BOOL": rng.random() < 0.3},
    }
    if rng.random() < 0.5:
        item["hashtags"] = {"L": [{"S": w} for w in rng.sample(WORDS, 3)]}
    if rng.random() < 0.3:
        item["score"] = {"N": "%d.%d" % (rng.randrange(100), rng.randrange(1, 10))}
    return item


def puts(n, seed=1, start=0):
    rng = random.Random(seed)
    return [("put", tweet_item(start + i, rng)) for i in range(n)]


def norm(v):
    """An attribute value in a comparable form."""
    (t, x), = v.items()
    if t == "N":
        return {t: str(decimal.Decimal(x).normalize())}
    if t in ("SS", "BS"):
        return {t: sorted(x)}
    if t == "NS":
        return {t: sorted(str(decimal.Decimal(e).normalize()) for e in x)}
    if t == "L":
        return {t: [norm(e) for e in x]}
    if t == "M":
        return {t: {k: norm(e) for k, e in x.items()}}
    return {t: x}


def canon(item):
    return json.dumps({k: norm(v) for k, v in item.items()}, sort_keys=True, ensure_ascii=False)


def key_of(item, hash_key="id", range_key=None):
    k = (canon({hash_key: item[hash_key]}),)
    if range_key:
        k += (canon({range_key: item[range_key]}),)
    return k


# ---- the run ----

class Run:
    def __init__(self, rc, out, err, events, stats, dl_log, dl_file, wall):
        self.rc, self.out, self.err, self.events = rc, out, err, events
        self.stats, self.dl_log, self.dl_file, self.wall = stats, dl_log, dl_file, wall

    def of(self, event):
        return [e for e in self.events if e.get("event") == event]


class Ctx:
    def __init__(self, name, driver, keep):
        self.name, self.driver, self.keep = name, driver, keep
        self.tmp = tempfile.mkdtemp(prefix="tm-ddb-%s-" % name)
        self.moto = Moto(log_path=os.path.join(self.tmp, "moto.log")).start()
        self.client = awsjson.Client(self.moto.port, region=REGION)
        self.proxy = None
        self.servers = []
        self.hash_key, self.range_key = "id", None
        self.secrets = [STATIC[1], SESSION[1], SESSION[2], UNKNOWN[1]]
        for s, t in ECS_KEYS.values():
            self.secrets += [s, t]

    def close(self):
        for s in self.servers:
            s.shutdown()
            s.server_close()
        if self.proxy:
            self.proxy.stop()
        self.moto.stop()
        if not self.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def table(self, name=TABLE, hash_key="id", range_key=None, range_type="S"):
        self.client.create_table(name, hash_key=hash_key, range_key=range_key, range_type=range_type)
        self.hash_key, self.range_key = hash_key, range_key

    def start_proxy(self, plan=None, keys=None, tls=False):
        ks = {STATIC[0]: STATIC[1:], SESSION[0]: SESSION[1:]}
        ks.update(ECS_KEYS)
        if keys:
            ks.update(keys)
        self.proxy = Proxy(self.moto.port, ks, region=REGION, plan=plan or Plan())
        if tls:
            self.proxy.start(os.path.join(TLS_DIR, "server.pem"), os.path.join(TLS_DIR, "server.key"))
        else:
            self.proxy.start()
        self.scheme = "https" if tls else "http"
        return self.proxy

    def run(self, ops, env=None, creds=SESSION, endpoint=None, table=TABLE, timeout=100):
        ops_path = os.path.join(self.tmp, "ops.ndjson")
        with open(ops_path, "w", encoding="utf-8") as f:
            for op, av in ops:
                f.write(json.dumps({op: av}, ensure_ascii=False) + "\n")
        dl_path = os.path.join(self.tmp, "deadletters.ndjson")
        if os.path.exists(dl_path):
            os.unlink(dl_path)
        e = {k: v for k, v in os.environ.items()
             if not k.startswith(("AWS_", "DDB_", "TM_TEST_", "ECS_")) and k.lower() not in
             ("http_proxy", "https_proxy", "all_proxy", "no_proxy") and k not in
             ("DYNAMODBTABLE", "AWSREGION", "DEADLETTER_FILE", "LOG_LEVEL", "LOG_FORMAT")}
        e.update({"DYNAMODBTABLE": table, "AWSREGION": REGION, "DEADLETTER_FILE": dl_path,
                  "AWS_EC2_METADATA_DISABLED": "true"})
        if endpoint is None:
            endpoint = "%s://127.0.0.1:%d" % (self.scheme, self.proxy.port)
        e["AWS_ENDPOINT_URL_DYNAMODB"] = endpoint
        if creds:
            e["AWS_ACCESS_KEY_ID"], e["AWS_SECRET_ACCESS_KEY"] = creds[0], creds[1]
            if creds[2]:
                e["AWS_SESSION_TOKEN"] = creds[2]
        e.update(env or {})
        t0 = time.time()
        with open(os.path.join(self.tmp, "driver.out"), "wb") as fo, \
                open(os.path.join(self.tmp, "driver.err"), "wb") as fe:
            p = subprocess.Popen([self.driver, ops_path], env=e, stdin=subprocess.DEVNULL, stdout=fo, stderr=fe,
                                 preexec_fn=die_with_parent)
            try:
                rc = p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                raise Failure("the driver did not finish in %d s (see driver.out)" % timeout)
        wall = time.time() - t0
        with open(os.path.join(self.tmp, "driver.out"), "rb") as fo, \
                open(os.path.join(self.tmp, "driver.err"), "rb") as fe:
            out, err = fo.read().decode("utf-8", "replace"), fe.read().decode("utf-8", "replace")
        events = []
        for line in out.splitlines():
            try:
                events.append(json.loads(line))
            except ValueError:
                raise Failure("driver printed a line that is not JSON: %r" % line[:200])
        stats = next((x for x in events if x.get("event") == "driver_stats"), None)
        dl_log = [x for x in events if x.get("event") == "dead_letter"]
        dl_file = []
        if os.path.exists(dl_path):
            with open(dl_path, encoding="utf-8") as f:
                dl_file = [json.loads(line) for line in f]
        blob = out + err + json.dumps(dl_file)
        for s in self.secrets:
            check(s not in blob, "a secret appears in the driver's output: %s..." % s[:6])
        if self.proxy:
            check(not self.proxy.violations, "the proxy saw malformed requests", *self.proxy.violations[:5])
        return Run(rc, out, err, events, stats, dl_log, dl_file, wall)

    def expect_table(self, ops, run, maybe=()):
        """The scan equals ops applied in order, less the dead letters; keys
        in maybe (abandoned in flight) may be present or not."""
        dead = collections.Counter((d.get("op"), canon(d["item"])) for d in run.dl_log)
        state = {}
        for op, av in ops:
            c = (op, canon(av))
            if dead[c]:
                dead[c] -= 1
                continue
            k = key_of(av, self.hash_key, self.range_key)
            if op == "put":
                state[k] = canon(av)
            else:
                state.pop(k, None)
        got = {}
        for it in self.client.scan(TABLE):
            k = key_of(it, self.hash_key, self.range_key)
            check(k not in got, "key %s twice in the table" % (k,))
            got[k] = canon(it)
        maybe = set(maybe)
        missing = [k for k in state if k not in got]
        extra = [k for k in got if k not in state and k not in maybe]
        differ = [k for k in state if k in got and got[k] != state[k]]
        check(not missing and not extra and not differ,
              "the table differs from what was sent: %d missing, %d extra, %d different"
              % (len(missing), len(extra), len(differ)),
              *(["missing %s" % (k,) for k in missing[:3]] + ["extra %s" % (k,) for k in extra[:3]] +
                ["%s: table %s, sent %s" % (k, got[k][:200], state[k][:200]) for k in differ[:3]]))
        return got

    def expect_counts(self, run, ops, dead=0):
        s = run.stats
        check(s is not None, "no driver_stats line", run.err[-2000:])
        check(s["queued"] == len(ops), "queued %d, sent %d" % (s["queued"], len(ops)))
        check(s["written"] + s["dead_letter"] == s["queued"] and s["depth"] == 0,
              "queued %d != written %d + dead letters %d (depth %d)"
              % (s["queued"], s["written"], s["dead_letter"], s["depth"]))
        check(s["dead_letter"] == len(run.dl_log), "dead_letter counter %d, %d log lines"
              % (s["dead_letter"], len(run.dl_log)))
        check(len(run.dl_log) == dead, "%d dead letters, expected %d" % (len(run.dl_log), dead),
              *[d.get("reason") for d in run.dl_log[:3]])
        # The file holds the same dead letters as the log.
        a = sorted((d["op"], d["reason"], canon(d["item"])) for d in run.dl_log)
        b = sorted((d["op"], d["reason"], canon(d["item"])) for d in run.dl_file)
        check(a == b, "DEADLETTER_FILE (%d lines) does not match the dead_letter log lines (%d)"
              % (len(b), len(a)))
        for d in run.dl_file:
            check(d.get("table") == TABLE and d.get("time", "").endswith("Z"), "dead-letter line lacks table/time", d)


def expect_rc(run, rc):
    check(run.rc == rc, "driver exited %d, expected %d" % (run.rc, rc), run.err[-1500:], run.out[-1500:])


# ---- an ECS-style credentials endpoint ----

class EcsServer:
    def __init__(self, ctx):
        self.fetches = 0
        srv = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                srv.fetches += 1
                n = srv.fetches
                key = "ASIAECSTEST%09d" % n
                secret, token = ECS_KEYS[key]
                exp = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=6))
                body = json.dumps({"AccessKeyId": key, "SecretAccessKey": secret, "Token": token,
                                   "Expiration": exp.strftime("%Y-%m-%dT%H:%M:%SZ")}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        ctx.servers.append(self.server)


# ---- the cases ----

CASES = collections.OrderedDict()


def case(fn):
    CASES[fn.__name__] = fn
    return fn


@case
def fault_mix_5000(ctx):
    """5,000 items through 20% throttling, 5% 500s, 5% resets, 10% partial
    UnprocessedItems and 2% bad CRC: every item once, no dead letter."""
    ctx.table()
    px = ctx.start_proxy(Plan(throttle=0.20, e500=0.05, reset=0.05, partial=0.10, bad_crc=0.02, seed=42))
    ops = puts(5000)
    run = ctx.run(ops)
    expect_rc(run, 0)
    ctx.expect_counts(run, ops, dead=0)
    ctx.expect_table(ops, run)
    s = run.stats
    for fault in ("ProvisionedThroughputExceededException", "InternalServerError", "reset", "partial", "bad_crc"):
        check(px.get(fault) > 0, "the proxy injected no %s" % fault)
    check(s["retried"] > 0, "no retries counted")
    # The writer's counts agree with what the proxy did.
    pairs = [("req_throttled", "ProvisionedThroughputExceededException"), ("req_server", "InternalServerError"),
             ("req_crc", "bad_crc"), ("req_partial", "partial"), ("unprocessed", "unprocessed_items")]
    for mine, theirs in pairs:
        check(s[mine] == px.get(theirs), "%s is %d, the proxy counted %s %d" % (mine, s[mine], theirs, px.get(theirs)))
    # A reset on a reused connection before any byte of a response is
    # retried by libcurl itself, once, on a new connection: the proxy then
    # sees one request more than the writer sent, and one reset the writer
    # never saw. Every other reset is a transport error of the writer's.
    silent = px.get("data_requests") - s["requests"]
    check(s["req_transport"] > 0 and s["req_transport"] + silent == px.get("reset"),
          "req_transport %d + %d retried by libcurl != %d resets" % (s["req_transport"], silent, px.get("reset")))


@case
def invalid_item_in_batch(ctx):
    """A batch of 25 with one item lacking the key attribute: moto refuses
    the batch; the writer narrows it down to single PutItems: 24 written, one
    dead letter with DynamoDB's message."""
    ctx.table()
    px = ctx.start_proxy()
    ops = puts(25)
    bad = dict(ops[11][1])
    bad["idx"] = bad.pop("id")
    ops[11] = ("put", bad)
    run = ctx.run(ops, env={"DDB_LINGER_MS": "1000"})
    expect_rc(run, 0)
    ctx.expect_counts(run, ops, dead=1)
    ctx.expect_table(ops, run)
    d = run.dl_log[0]
    check(canon(d["item"]) == canon(bad), "the dead letter is not the invalid item", d["item"])
    check(d["reason"].startswith("ValidationException: ") and "Missing the key id" in d["reason"],
          "the dead letter's reason is not DynamoDB's message", d["reason"])
    ops_seen = [o for o, _, _, _ in px.log]
    check(ops_seen[1] == "BatchWriteItem" and "PutItem" in ops_seen, "no fall back to PutItem", ops_seen)
    check(run.stats["req_invalid"] >= 2, "req_invalid %d" % run.stats["req_invalid"])


@case
def poisoned_items(ctx):
    """ValidationException for chosen items (the proxy refuses any request
    holding one), among 300 items with partial UnprocessedItems too: the 5
    refused are dead letters with the message, the rest written."""
    ctx.table()
    ctx.start_proxy(Plan(partial=0.2, seed=7))
    ops = puts(300)
    poisoned = [3, 50, 51, 120, 299]
    for i in poisoned:
        ops[i][1]["poison"] = {"BOOL": True}
    run = ctx.run(ops)
    expect_rc(run, 0)
    ctx.expect_counts(run, ops, dead=len(poisoned))
    ctx.expect_table(ops, run)
    got = sorted(canon(d["item"]) for d in run.dl_log)
    check(got == sorted(canon(ops[i][1]) for i in poisoned), "the wrong items were dead-lettered")
    for d in run.dl_log:
        check(d["reason"].startswith("ValidationException: One or more parameter values were invalid: poisoned"),
              "reason", d["reason"])


@case
def duplicate_keys_in_batch(ctx):
    """Puts and deletes repeating keys inside one batch: DynamoDB would
    refuse the batch; the writer keeps the last operation per key."""
    ctx.table()
    px = ctx.start_proxy()
    rng = random.Random(5)
    base = [tweet_item(i, rng) for i in range(8)]
    ops = []
    for step in range(24):
        k = rng.randrange(8)
        it = dict(base[k])
        it["version"] = {"N": str(step)}
        ops.append(("delete", {"id": it["id"]}) if rng.random() < 0.2 else ("put", it))
    run = ctx.run(ops, env={"DDB_LINGER_MS": "2000"})
    expect_rc(run, 0)
    ctx.expect_counts(run, ops, dead=0)
    ctx.expect_table(ops, run)
    check(px.get("ValidationException") == 0, "DynamoDB refused a batch")
    check(run.stats["superseded"] > 0, "nothing superseded")
    check(run.stats["requests"] == 1, "%d requests for one batch" % run.stats["requests"])


@case
def refused_replacement(ctx):
    """A put replaced in the queue by a newer put of its key that DynamoDB
    refuses: the newer one is a dead letter and the older one is written,
    as two sequential PutItems would leave the table."""
    ctx.table()
    ctx.start_proxy()
    ops = puts(10)
    a2 = dict(ops[0][1], version={"N": "2"}, poison={"BOOL": True})
    b2 = dict(ops[1][1], version={"N": "2"})
    ops += [("put", a2), ("put", b2)]
    run = ctx.run(ops, env={"DDB_LINGER_MS": "1000"})
    expect_rc(run, 0)
    ctx.expect_counts(run, ops, dead=1)
    got = ctx.expect_table(ops, run)
    check(canon(run.dl_log[0]["item"]) == canon(a2), "the refused put is not the dead letter")
    check(got[key_of(ops[0][1])] == canon(ops[0][1]), "the older put was not written")
    check(run.stats["superseded"] == 1, "superseded %d" % run.stats["superseded"])


@case
def key_order_across_requests(ctx):
    """Operations on a key that is in a request wait for its outcome, so the
    last one wins even with retries and several requests in flight."""
    ctx.table()
    ctx.start_proxy(Plan(throttle=0.2, partial=0.2, reset=0.05, seed=11, delay_s=0.02))
    rng = random.Random(9)
    base = [tweet_item(i, rng) for i in range(30)]
    ops = []
    for step in range(600):
        k = rng.randrange(30)
        it = dict(base[k])
        it["version"] = {"N": str(step)}
        ops.append(("delete", {"id": it["id"]}) if rng.random() < 0.15 else ("put", it))
    run = ctx.run(ops, env={"DDB_LINGER_MS": "0", "TM_TEST_JITTER": "0.2"})
    expect_rc(run, 0)
    ctx.expect_counts(run, ops, dead=0)
    ctx.expect_table(ops, run)


@case
def deletes(ctx):
    """DeleteItem by key: 200 puts, then deletes of 80 of them and of 10
    keys never written; a table with a sort key."""
    ctx.table(hash_key="user", range_key="id")
    ctx.start_proxy(Plan(partial=0.3, seed=3))
    rng = random.Random(4)
    items = [tweet_item(i, rng) for i in range(200)]
    ops = [("put", it) for it in items]
    ops += [("delete", {"user": it["user"], "id": it["id"]}) for it in rng.sample(items, 80)]
    ops += [("delete", {"user": {"S": "nobody"}, "id": {"S": str(i)}}) for i in range(10)]
    run = ctx.run(ops)
    expect_rc(run, 0)
    ctx.expect_counts(run, ops, dead=0)
    got = ctx.expect_table(ops, run)
    check(len(got) == 120, "%d items left, expected 120" % len(got))
    # Keep-alive: one connection for DescribeTable, at most one per slot after.
    check(ctx.proxy.connections <= 1 + 4, "%d connections for %d requests: not reused"
          % (ctx.proxy.connections, run.stats["requests"]))


@case
def item_types(ctx):
    """Every attribute type, Unicode, escapes, binary, and a 350 KB item,
    written and read back exactly."""
    ctx.table()
    ctx.start_proxy()
    ops = [("put", {
        "id": {"S": "types"}, "s": {"S": "quote \" backslash \\ tab \t nl \n ctrl \u0001 é 東京 🚀"},
        "n": {"N": "-12345678901234567890.5"}, "small": {"N": "1.5e-7"}, "b": {"B": "AAEC/f7/"},
        "t": {"BOOL": True}, "f": {"BOOL": False}, "null": {"NULL": True},
        "l": {"L": [{"S": "a"}, {"N": "1"}, {"L": []}, {"M": {}}]},
        "m": {"M": {"inner": {"M": {"deep": {"SS": ["x", "y"]}}}, "z": {"NS": ["1", "2.5", "-3"]}}},
        "bs": {"BS": ["AQ==", "Ag=="]}, "empty": {"S": ""},
    }), ("put", {"id": {"S": "big"}, "text": {"S": "x" * 350000}})]
    run = ctx.run(ops)
    expect_rc(run, 0)
    ctx.expect_counts(run, ops, dead=0)
    ctx.expect_table(ops, run)


@case
def missing_table(ctx):
    """DescribeTable of a table that does not exist: exit 3, and a message
    naming the table, the region and the AWS error."""
    ctx.table()
    ctx.start_proxy()
    run = ctx.run(puts(3), table="no_such_table")
    expect_rc(run, 3)
    for want in ('"no_such_table"', REGION, "ResourceNotFoundException"):
        check(want in run.err, "the message lacks %s" % want, run.err)


@case
def unknown_credentials(ctx):
    """An access key AWS does not know: UnrecognizedClientException; static
    keys cannot be refreshed: exit 3 naming the error."""
    ctx.table()
    ctx.start_proxy()
    run = ctx.run(puts(3), creds=UNKNOWN)
    expect_rc(run, 3)
    for want in (TABLE, REGION, "UnrecognizedClientException", "cannot be refreshed"):
        check(want in run.err, "the message lacks %s" % want, run.err)


@case
def wrong_secret(ctx):
    """A wrong secret key with a session token: InvalidSignatureException,
    whose AWS message quotes the canonical request (with the token). Exit 3;
    neither the secret nor the token is printed."""
    ctx.table()
    ctx.start_proxy()
    run = ctx.run(puts(3), creds=(SESSION[0], "WrongSecretKey/PPsecret+0000000000009", SESSION[2]))
    ctx.secrets.append("WrongSecretKey/PPsecret+0000000000009")
    expect_rc(run, 3)
    check("InvalidSignatureException" in run.err and TABLE in run.err, "message", run.err)
    check("Canonical" not in run.err, "the canonical request was printed", run.err)
    check(SESSION[2] not in run.err, "the token was printed")


@case
def access_denied(ctx):
    """AccessDeniedException at DescribeTable: exit 3 with the message."""
    ctx.table()
    ctx.start_proxy(Plan(deny_keys=(SESSION[0],)))
    run = ctx.run(puts(3))
    expect_rc(run, 3)
    check("AccessDeniedException" in run.err and REGION in run.err, "message", run.err)


@case
def endpoint_unreachable_at_start(ctx):
    """Nothing listens at the endpoint: a transient failure (exit 1 in the
    driver), after 3 tries, naming the endpoint."""
    port = free_port()
    run = ctx.run(puts(3), endpoint="http://127.0.0.1:%d" % port, env={"TM_TEST_JITTER": "0"})
    expect_rc(run, 1)
    check("127.0.0.1:%d" % port in run.err and "no response" in run.err, "message", run.err)


@case
def endpoint_down_then_back(ctx):
    """The endpoint resets every connection for 1.5 s, then is back: every
    item written, nothing dead-lettered. (The jitter is fixed at 0.5, so the
    10 tries of a batch span 3.2 s: no batch can run out by chance.)"""
    ctx.table()
    px = ctx.start_proxy(Plan(down_after=1, down_for_s=1.5))
    ops = puts(500)
    run = ctx.run(ops, env={"TM_TEST_JITTER": "0.5"})
    expect_rc(run, 0)
    ctx.expect_counts(run, ops, dead=0)
    ctx.expect_table(ops, run)
    check(px.get("down_reset") > 0 and run.stats["req_transport"] > 0, "the outage was not seen")


@case
def endpoint_down_past_retries(ctx):
    """The endpoint goes down for good after DescribeTable: every item is a
    dead letter "retries exhausted after 3 attempts", in the log and the
    file; the table stays empty."""
    ctx.table()
    ctx.start_proxy(Plan(down_after=1))
    ops = puts(120)
    for i in range(115, 120):  # newer versions of keys still queued: they replace the older ones
        it = dict(ops[i][1])
        it["version"] = {"N": "2"}
        ops.append(("put", it))
    run = ctx.run(ops, env={"DDB_MAX_ATTEMPTS": "3", "TM_TEST_JITTER": "0.1"})
    expect_rc(run, 0)
    ctx.expect_counts(run, ops, dead=125)
    ctx.expect_table(ops, run)
    exhausted = "retries exhausted after 3 attempts: no response from http://127.0.0.1:"
    for d in run.dl_log:
        check(d["reason"].startswith(exhausted) or d["reason"].startswith(
              "replaced in the queue by a later operation on its key, which failed: " + exhausted), "reason", d["reason"])
    check(run.stats["flush"] == "ok", "the flush did not finish")


@case
def flush_deadline(ctx):
    """A slow endpoint and a 1 s flush deadline: what is not written by then
    is a dead letter "shutdown deadline"; the counters add up and the table
    holds exactly the written items (and maybe those abandoned in flight)."""
    ctx.table()
    ctx.start_proxy(Plan(delay_s=0.3))
    ops = puts(400)
    run = ctx.run(ops, env={"DDB_MAX_IN_FLIGHT": "2", "TM_TEST_FLUSH_MS": "1000", "DDB_QUEUE_MAX": "100000"})
    expect_rc(run, 0)
    s = run.stats
    check(s["flush"] == "deadline" and s["written"] > 0 and s["dead_letter"] > 0,
          "expected some written and some dead letters", s)
    ctx.expect_counts(run, ops, dead=s["dead_letter"])
    maybe = [key_of(d["item"]) for d in run.dl_log if "in flight" in d["reason"]]
    for d in run.dl_log:
        check(d["reason"].startswith("shutdown deadline"), "reason", d["reason"])
    check(len(maybe) == 25 * s["req_aborted"] and s["req_aborted"] >= 1, "abandoned requests", s)
    time.sleep(0.5)  # let the proxy finish what it had
    ctx.expect_table(ops, run, maybe=maybe)


@case
def expired_token_ecs(ctx):
    """Task-role credentials from an ECS-style endpoint; DynamoDB answers
    ExpiredTokenException once: one forced refresh (a second fetch), the
    request signed again with the new credentials, everything written."""
    ctx.table()
    ecs = EcsServer(ctx)
    px = ctx.start_proxy(Plan(expired_once=True))
    ops = puts(100)
    run = ctx.run(ops, creds=None, env={
        "TM_TEST_ECS_ENDPOINT": "http://127.0.0.1:%d" % ecs.port,
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/test", "DDB_MAX_IN_FLIGHT": "1",
        # creds.h: a forced refresh within 10 s of a fetch makes no new
        # fetch; let the credentials' clock pass 20 s after start-up.
        "TM_TEST_CREDS_ADVANCE_MS": "20000"})
    expect_rc(run, 0)
    ctx.expect_counts(run, ops, dead=0)
    ctx.expect_table(ops, run)
    check(ecs.fetches == 2, "%d credential fetches, expected 2" % ecs.fetches)
    check(run.stats["req_refresh"] == 1, "req_refresh %d" % run.stats["req_refresh"])
    log = [(op, key, outcome) for op, key, outcome, _ in px.log if op != "DescribeTable"]
    check(log[0][2] == "ExpiredTokenException" and log[0][1] == "ASIAECSTEST000000001", "first request", log[:2])
    check(all(k == "ASIAECSTEST000000002" for _, k, _ in log[1:]), "later requests not signed with the new keys",
          log[:4])
    check(len(run.of("credentials_refreshed")) == 1, "no credentials_refreshed line")


@case
def expired_token_static(ctx):
    """ExpiredTokenException with credentials from the environment, which
    cannot be refreshed: the refused batch is dead-lettered with the error
    and why no refresh; the other batches are written."""
    ctx.table()
    ctx.start_proxy(Plan(expired_once=True))
    ops = puts(100)
    run = ctx.run(ops, env={"DDB_MAX_IN_FLIGHT": "1"})
    expect_rc(run, 0)
    ctx.expect_counts(run, ops, dead=25)
    ctx.expect_table(ops, run)
    for d in run.dl_log:
        check(d["reason"].startswith("ExpiredTokenException: The security token included in the request is expired")
              and "cannot be refreshed" in d["reason"], "reason", d["reason"])


@case
def bad_crc_retried(ctx):
    """Responses whose x-amz-crc32 does not match their body are retried."""
    ctx.table()
    ctx.start_proxy(Plan(first_bad_crc=3))
    ops = puts(100)
    run = ctx.run(ops, env={"DDB_MAX_IN_FLIGHT": "1"})
    expect_rc(run, 0)
    ctx.expect_counts(run, ops, dead=0)
    ctx.expect_table(ops, run)
    check(run.stats["req_crc"] == 3, "req_crc %d" % run.stats["req_crc"])
    check(run.stats["retried"] == 75, "retried %d" % run.stats["retried"])


@case
def backoff_waits(ctx):
    """With the jitter fixed at 0.5, four throttled tries wait 12, 25, 50 and
    100 ms (full jitter from 25 ms, doubling)."""
    ctx.table()
    ctx.start_proxy(Plan(first_throttles=4))
    ops = puts(25)
    run = ctx.run(ops, env={"DDB_MAX_IN_FLIGHT": "1", "TM_TEST_JITTER": "0.5", "LOG_LEVEL": "debug"})
    expect_rc(run, 0)
    ctx.expect_counts(run, ops, dead=0)
    ctx.expect_table(ops, run)
    waits = [(e["class"], e["attempt"], e["wait_ms"]) for e in run.of("ddb_retry")]
    check(waits == [("throttle", 1, 12), ("throttle", 2, 25), ("throttle", 3, 50), ("throttle", 4, 100)],
          "waits", waits)
    check(run.stats["wall_ms"] >= 187, "the waits were not waited", run.stats["wall_ms"])


@case
def unprocessed_until_written(ctx):
    """An item DynamoDB leaves unprocessed 12 times, more than the 3 tries
    allowed for errors: UnprocessedItems are resent until written."""
    ctx.table()
    ops = puts(50)
    target = ops[7][1]["id"]
    px = ctx.start_proxy(Plan(unprocessed_item=("id", target, 12)))
    run = ctx.run(ops, env={"DDB_MAX_ATTEMPTS": "3", "TM_TEST_JITTER": "0.01"})
    expect_rc(run, 0)
    ctx.expect_counts(run, ops, dead=0)
    ctx.expect_table(ops, run)
    check(run.stats["unprocessed"] == 12 and px.get("unprocessed_items") == 12, "unprocessed", run.stats)


@case
def clock_skew(ctx):
    """The local clock is 15 minutes slow: AWS refuses the signature as
    expired; the writer takes the offset from the response's Date and
    retries; everything is written."""
    ctx.table()
    px = ctx.start_proxy()
    ops = puts(60)
    run = ctx.run(ops, env={"TM_TEST_CLOCK_OFFSET_MS": "-900000"})
    expect_rc(run, 0)
    ctx.expect_counts(run, ops, dead=0)
    ctx.expect_table(ops, run)
    check(px.get("skew") == 1, "skew refusals %d" % px.get("skew"))
    check(len(run.of("clock_skew")) == 1, "no clock_skew line")


@case
def queue_bound(ctx):
    """A queue bound of 60 with a slow endpoint: the driver pauses its input
    as the daemon would, the depth stays at the bound, everything written."""
    ctx.table()
    ctx.start_proxy(Plan(delay_s=0.03))
    ops = puts(500)
    run = ctx.run(ops, env={"DDB_QUEUE_MAX": "60", "DDB_MAX_IN_FLIGHT": "2"})
    expect_rc(run, 0)
    ctx.expect_counts(run, ops, dead=0)
    ctx.expect_table(ops, run)
    check(run.stats["paused"] > 0 and run.stats["max_depth"] <= 60, "queue bound", run.stats)


@case
def tls_ca_bundle(ctx):
    """An https endpoint whose certificate only AWS_CA_BUNDLE trusts: the
    writer verifies it with that bundle and writes everything."""
    ctx.table()
    ctx.start_proxy(tls=True)
    ops = puts(100)
    run = ctx.run(ops, env={"AWS_CA_BUNDLE": os.path.join(TLS_DIR, "ca.pem")})
    expect_rc(run, 0)
    ctx.expect_counts(run, ops, dead=0)
    ctx.expect_table(ops, run)


@case
def tls_untrusted(ctx):
    """The same endpoint without the bundle: the certificate is refused
    (TLS is always verified), a transient start-up failure naming it."""
    ctx.table()
    px = ctx.start_proxy(tls=True)
    run = ctx.run(puts(3), env={"TM_TEST_JITTER": "0"})
    expect_rc(run, 1)
    check("certificate" in run.err, "message", run.err)
    check(px.n_requests == 0, "a request got through an unverified connection")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--driver")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the case's temporary directory")
    ap.add_argument("case", nargs="?")
    a = ap.parse_args()
    if a.list:
        print("\n".join(CASES))
        return 0
    if a.case not in CASES or not a.driver:
        ap.error("need --driver and one of: " + ", ".join(CASES))
    if shutil.which("moto_server") is None:
        print("FAIL: " + INSTALL_HINT, file=sys.stderr)
        return 1
    # A ctest timeout or ^C: still stop the servers (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("FAIL %s: terminated" % a.case))
    ctx = Ctx(a.case, a.driver, a.keep)
    try:
        CASES[a.case](ctx)
    except Failure as e:
        print("FAIL %s: %s\n(files in %s)" % (a.case, e, ctx.tmp), file=sys.stderr)
        ctx.keep = True
        return 1
    finally:
        ctx.close()
    print("PASS %s" % a.case)
    return 0


if __name__ == "__main__":
    sys.exit(main())
