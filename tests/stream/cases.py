#!/usr/bin/env python3
"""The stream client's cases: the real client (tm_stream_drive) against the
fake server (fake_stream.py), one ctest entry per case.

  cases.py --list        the case names
  cases.py NAME          runs one case; exit 0 when it passes

TM_STREAM_DRIVE names the driver binary. Every run's whole output (logs on
stdout, stderr, the events and the lines received) is searched for the
credentials, raw and percent-encoded: none may appear, in any case. Backoff
cases run on the driver's fake clock (--fake-clock), so Twitter's waits of
seconds to minutes take no real time, and they assert the exact sequence of
nominal waits and that each attempt came no sooner than its wait.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)
import fake_stream  # noqa: E402

DRIVE = os.environ.get("TM_STREAM_DRIVE", os.path.join(HERE, "..", "..", "build", "tm_stream_drive"))

KEYS = {
    "CONSUMERKEY": "ck-Xq3vZ1evFS4wEEPTGEF-key",
    "CONSUMERSECRETKEY": "cs-kAcSOqF21Fu85e7zjz7ZN2U4ZR/secret+",
    "ACCESSTOKEN": "at-370773112-GmHxMAgYyLbNEtIK-token",
    "ACCESSTOKENSECRET": "ats-LswwdoUaIvS8ltyTt5jkRh4J=secret",
}
BEARER = "bt-AAAAAAAAAAAAAAAAAAAAAMLheAAAAAAA0%2BuSeid-bearer"
SECRETS = list(KEYS.values()) + [BEARER]

OAUTH = {"mode": "oauth1", "consumer_key": KEYS["CONSUMERKEY"], "consumer_secret": KEYS["CONSUMERSECRETKEY"],
         "token": KEYS["ACCESSTOKEN"], "token_secret": KEYS["ACCESSTOKENSECRET"]}
BEARER_AUTH = {"mode": "bearer", "bearer_token": BEARER}
V1_PATH = "/1.1/statuses/filter.json"
V2_PATH = "/2/tweets/search/stream"


class Fail(Exception):
    pass


def check(cond, what, *detail):
    if not cond:
        raise Fail(what + ("\n  " + "\n  ".join(str(d) for d in detail) if detail else ""))


def eq(got, want, what):
    check(got == want, what, "expected: %r" % (want,), "actual:   %r" % (got,))


class Run:
    pass


def run(script, mode, args=(), env=None, url=None, url_path=None, timeout=60):
    """Runs the driver against a fake server playing script; returns a Run."""
    if mode == "v1":
        script.setdefault("stream_path", V1_PATH)
        script.setdefault("auth", OAUTH)
    elif mode == "v2":
        script.setdefault("stream_path", V2_PATH)
        script.setdefault("auth", BEARER_AUTH)
        script.setdefault("v2_tweets", True)
    srv = fake_stream.Server(script).start()
    e = {k: v for k, v in os.environ.items()
         if k not in KEYS and k not in ("BEARERTOKEN", "STREAM_URL", "STREAM_STALL_SECONDS", "STREAM_RULE_TAG",
                                        "MAX_LINE_BYTES", "AWS_CA_BUNDLE") and not k.lower().endswith("_proxy")}
    if mode == "v1":
        e.update(KEYS)
    elif mode == "v2":
        e["BEARERTOKEN"] = BEARER
    e["STREAM_URL"] = url or srv.url(url_path)
    e.update(env or {})
    with tempfile.TemporaryDirectory() as tmp:
        lines_path = os.path.join(tmp, "lines")
        events_path = os.path.join(tmp, "events")
        argv = [DRIVE, "--lines", lines_path, "--events", events_path] + list(args)
        try:
            p = subprocess.run(argv, env=e, capture_output=True, timeout=timeout)
        finally:
            srv.stop()
        r = Run()
        r.rc = p.returncode
        r.stdout = p.stdout.decode("utf-8", "replace")
        r.stderr = p.stderr.decode("utf-8", "replace")
        r.lines_raw = open(lines_path, "rb").read() if os.path.exists(lines_path) else b""
        r.events_raw = open(events_path, encoding="utf-8").read() if os.path.exists(events_path) else ""
    r.server = srv
    r.records = srv.records
    # Bytes that are not UTF-8 stay as they are (surrogate escapes).
    r.lines = r.lines_raw.decode("utf-8", "surrogateescape").split("\n")[:-1] if r.lines_raw else []
    r.events = [json.loads(l) for l in r.events_raw.splitlines() if l.strip()]
    r.states = [ev for ev in r.events if ev["ev"] == "state"]
    r.backoffs = [ev for ev in r.states if ev["state"] == "backoff"]
    stats = [ev for ev in r.events if ev["ev"] == "stats"]
    r.stats = stats[-1] if stats else None
    r.logs = []
    for l in r.stdout.splitlines():
        try:
            r.logs.append(json.loads(l))
        except ValueError:
            raise Fail("a stdout line is not a JSON log line: %r\nstderr: %s" % (l, r.stderr))
    no_secrets(r.stdout + r.stderr + r.events_raw + r.lines_raw.decode("utf-8", "replace"))
    check(r.rc == 0, "the driver exited %d" % r.rc, r.stderr[-2000:], r.stdout[-3000:])
    check(r.stats is not None, "no stats event", r.stderr)
    for ev in r.logs:
        check("ts" in ev and "level" in ev and "event" in ev, "a log line lacks ts/level/event", ev)
    return r


def no_secrets(text):
    for s in SECRETS:
        for form in (s, urllib.parse.quote(s, safe=""), urllib.parse.quote(s, safe="-._~")):
            check(form not in text, "a credential appears in the output: %s..." % form[:6])
        # Also its distinctive middle part, in case of partial echoes.
        mid = s[3:-6]
        check(mid not in text, "part of a credential appears in the output: %s..." % mid[:6])


def logs(r, event):
    return [l for l in r.logs if l["event"] == event]


def waits(r):
    return [(b["reason"], b["wait_ms"]) for b in r.backoffs]


def check_gaps(r):
    """Each attempt came no sooner than the wait armed before it (fake clock)."""
    for i, ev in enumerate(r.states):
        if ev["state"] != "backoff":
            continue
        nxt = [x for x in r.states[i + 1:] if x["state"] == "connecting"]
        if not nxt:
            continue
        gap = nxt[0]["t"] - ev["t"]
        check(ev["delay_ms"] <= gap < ev["delay_ms"] + 3000,
              "attempt after a %d ms wait came %d ms later" % (ev["delay_ms"], gap))


def short(i, kind="t"):
    return '{"id_str":"%d","text":"%s %d"}' % (i, kind, i)


def tweet_lines(count, seed=1, first_id=1, v2=False):
    return fake_stream.tweets({"count": count, "seed": seed, "first_id": first_id}, v2)


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


CASES = {}


def case(fn):
    CASES[fn.__name__] = fn
    return fn


# ---- framing ----

@case
def ndjson_basic():
    lines = [short(i) for i in range(20)]
    r = run({"connections": [[{"respond": 200}, {"lines": lines}, {"end": True}]]}, "ndjson", ["--stop-on-closed"])
    eq(r.lines, lines, "lines received")
    req = r.records[0]
    eq(req["method"], "GET", "method")
    check("authorization" not in req["headers"], "an NDJSON request carries no Authorization header")
    check("gzip" in req["headers"].get("accept-encoding", ""), "Accept-Encoding: gzip is sent", req["headers"])
    eq([s["state"] for s in r.states], ["connecting", "connected", "backoff"], "states")
    eq(waits(r), [("closed", 0)], "the server's end is a disconnect, reconnected at once")
    eq(r.stats["messages"]["tweet"], 20, "tweets counted")
    check(logs(r, "stream_connected"), "a stream_connected log line")


@case
def split_every_byte():
    lines = tweet_lines(150, seed=3)
    r = run({"connections": [[{"respond": 200}, {"lines": lines, "split": "bytes"}, {"hold": True}]]}, "ndjson",
            ["--stop-after-lines", "150"])
    eq(r.lines, lines, "every message intact and in order with one byte per chunk")


@case
def split_random_10000():
    lines = tweet_lines(10000, seed=42)
    r = run({"connections": [[{"respond": 200}, {"lines": lines, "split": "random", "seed": 42, "max_chunk": 5000},
                              {"hold": True}]]}, "ndjson", ["--stop-after-lines", "10000"])
    eq(len(r.lines), 10000, "count of messages")
    check(r.lines == lines, "10,000 messages intact and in order",
          "first difference at %d" % next((i for i, (a, b) in enumerate(zip(r.lines, lines)) if a != b), -1))
    eq(r.stats["bytes"], sum(len(l.encode()) + 2 for l in lines), "bytes counted")


@case
def split_small_chunks():
    """Chunks of 1..7 bytes: the \\r and \\n of a line end often in different chunks."""
    lines = tweet_lines(300, seed=5)
    r = run({"connections": [[{"respond": 200}, {"lines": lines, "split": "random", "seed": 9, "max_chunk": 7},
                              {"hold": True}]]}, "ndjson", ["--stop-after-lines", "300"])
    eq(r.lines, lines, "messages intact")


@case
def keepalives():
    a, b, c = short(1), short(2), short(3)
    r = run({"connections": [[{"respond": 200}, {"keepalive": 3}, {"lines": [a]}, {"keepalive": 2},
                              {"raw": b + "\n\n" + c + "\r\n", "split": "bytes"}, {"keepalive": 1},
                              {"lines": [short(4)]}, {"hold": True}]]}, "ndjson", ["--stop-after-lines", "4"])
    eq(r.lines, [a, b, c, short(4)], "keep-alives are not passed on; bare \\n ends a line too")
    eq(r.stats["keepalives"], 7, "keep-alives counted (6 \\r\\n and one bare \\n)")


@case
def line_2mib():
    a, b = short(1), short(2)
    r = run({"connections": [[{"respond": 200}, {"lines": [a]},
                              {"big_line": 2 << 20, "split": "random", "max_chunk": 70000}, {"lines": [b]},
                              {"hold": True}]]}, "ndjson", ["--stop-after-lines", "2"])
    eq(r.lines, [a, b], "the 2 MiB line is dropped and reading resumes at the next line")
    eq((r.stats["oversize"], r.stats["bad_lines"]), (1, 1), "one oversize line counted, as a bad line")
    dropped = logs(r, "stream_line_dropped")
    check(len(dropped) == 1 and dropped[0]["bytes"] >= 2 << 20 and dropped[0]["max_bytes"] == 1 << 20,
          "the drop is logged with its size and the 1 MiB cap", dropped)
    eq(dropped[0]["level"], "warn", "level of the drop")


@case
def line_at_cap():
    ok = '{"text":"' + "a" * (4096 - 11) + '"}'
    over = '{"text":"' + "b" * (4097 - 11) + '"}'
    eq((len(ok), len(over)), (4096, 4097), "test lines")
    r = run({"connections": [[{"respond": 200}, {"lines": [ok, over, short(1)], "split": "random", "max_chunk": 300},
                              {"hold": True}]]}, "ndjson", ["--stop-after-lines", "2", "--max-line", "4096"])
    eq(r.lines, [ok, short(1)], "a line of exactly the cap passes, one byte more is dropped")


@case
def gzip():
    lines = tweet_lines(2000, seed=11)
    r = run({"connections": [[{"respond": 200, "gzip": True},
                              {"lines": lines, "split": "random", "seed": 3, "max_chunk": 3000}, {"hold": True}]]},
            "ndjson", ["--stop-after-lines", "2000"])
    eq(r.lines, lines, "gzip-compressed stream decoded intact")
    eq(r.stats["bytes"], sum(len(l.encode()) + 2 for l in lines), "bytes counted after decompression")


@case
def clean_close_last_line():
    a, b = short(1), short(2)
    r = run({"connections": [[{"respond": 200}, {"raw": a + "\r\n" + b}, {"end": True}]]}, "ndjson",
            ["--stop-on-closed"])
    eq(r.lines, [a, b], "a last line without its newline is delivered at a clean end")
    eq(waits(r), [("closed", 0)], "then a reconnect at once")


# ---- control messages ----

CONTROL_V1 = [
    ('{"delete":{"status":{"id":1,"id_str":"1","user_id":3,"user_id_str":"3"},"timestamp_ms":"1"}}', "delete"),
    ('{"limit":{"track":1234,"timestamp_ms":"1539000000000"}}', "limit"),
    ('{"warning":{"code":"FALLING_BEHIND","message":"Your connection is falling behind.","percent_full":60}}',
     "warning"),
    ('{"scrub_geo":{"user_id":1,"user_id_str":"1","up_to_status_id":2,"up_to_status_id_str":"2"}}', "scrub_geo"),
    ('{"status_withheld":{"id":5,"user_id":6,"withheld_in_countries":["DE","AR"]}}', "status_withheld"),
    ('{"user_withheld":{"id":6,"withheld_in_countries":["DE"]}}', "user_withheld"),
    ('{"event":"favorite","source":{}}', "other_control"),
    ('{"zzz_new_kind":{"x":1}}', "unknown"),
    ('[1,2,3]', "not_object"),
]


@case
def control_v1():
    seq = [short(1)]
    for line, _ in CONTROL_V1:
        seq += [line]
    seq += [short(2)]
    disc = '{"disconnect":{"code":12,"stream_name":"tm-statuses123","reason":"shed load"}}'
    r = run({"connections": [[{"respond": 200}, {"lines": seq + [disc], "split": "random", "max_chunk": 40},
                              {"hold": True}],
                             [{"respond": 200}, {"lines": [short(3)]}, {"hold": True}]]},
            "v1", ["--track", "cloud", "--stop-after-lines", str(len(seq) + 2), "--log-level", "debug"])
    eq(r.lines, seq + [disc, short(3)], "control messages are passed on in order")
    types = [e["type"] for e in r.events if e["ev"] == "line"]
    eq(types, [t for _, t in CONTROL_V1] + ["disconnect"], "classification of the control messages")
    lim = logs(r, "stream_limit")
    check(len(lim) == 1 and lim[0]["undelivered"] == 1234, "limit logged with the undelivered count", lim)
    w = logs(r, "stream_warning")
    check(len(w) == 1 and w[0]["code"] == "FALLING_BEHIND" and w[0]["percent_full"] == 60, "warning logged", w)
    ctl = sorted(l["type"] for l in logs(r, "stream_control") if l["level"] == "info")
    eq(ctl, ["scrub_geo", "status_withheld", "user_withheld"], "scrub_geo and withheld notices logged")
    unk = logs(r, "stream_unknown_message")
    check(len(unk) == 1 and unk[0]["level"] == "debug", "an unknown type is logged at debug", unk)
    check(len(logs(r, "stream_bad_line")) == 1, "a line that is not an object is logged")
    d = logs(r, "stream_disconnect_message")
    check(len(d) == 1 and d[0]["code"] == 12 and d[0]["reason"] == "shed load"
          and d[0]["stream_name"] == "tm-statuses123", "disconnect logged with code and reason", d)
    eq(waits(r), [("disconnect", 0)], "a disconnect message makes the client reconnect at once")
    eq(r.stats["connects"], 2, "connected twice")
    eq(r.stats["messages"]["delete"], 1, "deletes counted")
    eq(r.stats["bad_lines"], 1, "the line that is not an object counted as bad")


@case
def control_v2_operational_disconnect():
    op = ('{"errors":[{"title":"operational-disconnect","disconnect_type":"UpstreamOperationalDisconnect",'
          '"detail":"This stream has been disconnected upstream for operational reasons.",'
          '"type":"https://api.twitter.com/2/problems/operational-disconnect"}]}')
    t1, t2 = tweet_lines(2, v2=True)
    r = run({"connections": [[{"respond": 200}, {"lines": [t1, op]}, {"hold": True}],
                             [{"respond": 200}, {"lines": [t2]}, {"hold": True}]]},
            "v2", ["--track", "cloud", "--stop-after-lines", "3"])
    eq(r.lines, [t1, op, t2], "lines")
    o = logs(r, "stream_operational_disconnect")
    check(len(o) == 1 and o[0]["disconnect_type"] == "UpstreamOperationalDisconnect", "logged", o)
    eq(waits(r), [("disconnect", 0)], "reconnected at once")


# ---- disconnects, stalls ----

@case
def drop_mid_message():
    a, b, c, d = short(1), short(2), '{"id_str":"3","text":"' + "z" * 500 + '"}', short(4)
    r = run({"connections": [[{"respond": 200}, {"lines": [a, b]}, {"raw": c[:260]}, {"sleep_ms": 50}, {"drop": True}],
                             [{"respond": 200}, {"lines": [c, d]}, {"hold": True}]]},
            "ndjson", ["--stop-after-lines", "4", "--fake-clock"])
    eq(r.lines, [a, b, c, d], "the half message is never delivered; the next connection's are")
    eq(r.stats["truncated"], 1, "the partial line counted")
    eq(waits(r), [("network", 0)], "the first drop of a stream reconnects at once")


@case
def stall():
    a, b = short(1), short(2)
    r = run({"connections": [[{"respond": 200}, {"lines": [a]}, {"sleep_ms": 3000}, {"lines": [short(9)]}],
                             [{"respond": 200}, {"lines": [b]}, {"hold": True}]]},
            "ndjson", ["--stop-after-lines", "2", "--stall-ms", "300"])
    eq(r.lines, [a, b], "lines")
    eq(waits(r), [("stall", 0)], "silence past the allowance is a stall, reconnected at once")
    d = logs(r, "stream_disconnected")
    check(d and d[0]["reason"] == "stall" and "stall allowance 300 ms" in d[0]["message"], "stall logged", d)


@case
def stall_before_response():
    r = run({"connections": [[{"hold": True}], [{"respond": 200}, {"lines": [short(1)]}, {"hold": True}]]},
            "ndjson", ["--stop-after-lines", "1", "--stall-ms", "300"])
    eq(waits(r), [("stall", 0)], "no answer at all within the allowance is a stall")
    eq(r.lines, [short(1)], "lines")


@case
def keepalives_prevent_stall():
    steps = [{"respond": 200}, {"lines": [short(1)]}]
    for _ in range(10):
        steps += [{"sleep_ms": 100}, {"keepalive": 1}]
    steps += [{"lines": [short(2)]}, {"hold": True}]
    r = run({"connections": [steps]}, "ndjson", ["--stop-after-lines", "2", "--stall-ms", "600"])
    eq(r.lines, [short(1), short(2)], "lines")
    eq(waits(r), [], "keep-alives every 100 ms keep a 600 ms allowance from running out over 1 s")


@case
def stall_defaults():
    got = {}
    for mode in ("v1", "v2", "ndjson"):
        line = tweet_lines(1, v2=mode == "v2")[0]
        r = run({"connections": [[{"respond": 200}, {"lines": [line]}, {"hold": True}]]}, mode,
                ["--track", "cloud", "--stop-after-lines", "1"])
        got[mode] = r.stats["stall_ms"]
    eq(got, {"v1": 90000, "v2": 30000, "ndjson": 90000}, "stall allowances: 90 s v1.1, 30 s v2")


# ---- backoff ----

def net_waits(n):
    return [0] + [min(250 * i, 16000) for i in range(1, n)]


@case
def backoff_network():
    conns = [[{"respond": 200}, {"lines": [short(1)]}, {"drop": True}]] + [[{"close_now": True}]] * 8
    conns += [[{"respond": 200}, {"lines": [short(2)]}, {"hold": True}]]
    r = run({"connections": conns}, "ndjson", ["--stop-after-lines", "2", "--fake-clock"])
    eq(waits(r), [("network", w) for w in net_waits(9)], "network errors: at once, then +250 ms each")
    check_gaps(r)
    bl = logs(r, "stream_backoff")
    eq([(l["reason"], l["wait_ms"]) for l in bl], waits(r), "each wait logged with its reason and length")
    eq(r.lines, [short(1), short(2)], "lines")


@case
def backoff_network_cap():
    port = closed_port()
    r = run({}, "ndjson", ["--stop-after-backoffs", "70", "--fake-clock"],
            url="http://127.0.0.1:%d/stream" % port)
    eq([w for _, w in waits(r)], net_waits(70), "linear to 16 s, then 16 s")
    eq({reason for reason, _ in waits(r)}, {"network"}, "reasons")
    check_gaps(r)


@case
def backoff_http_503():
    err = {"errors": [{"code": 130, "message": "Over capacity"}]}
    r = run({"connections": [[{"respond": 503, "json": err}]] * 9}, "v1",
            ["--track", "cloud", "--stop-after-backoffs", "9", "--fake-clock"])
    eq(waits(r), [("http_error", w) for w in (5000, 10000, 20000, 40000, 80000, 160000, 320000, 320000, 320000)],
       "HTTP errors: 5 s doubling to 320 s")
    check(all(b["status"] == 503 and b["message"] == "Over capacity" for b in r.backoffs),
          "status and Twitter's message reported", r.backoffs[0])
    check_gaps(r)


@case
def backoff_420():
    r = run({"connections": [[{"respond": 420, "text": "Exceeded connection limit for user\r\n"}]] * 5}, "v1",
            ["--track", "cloud", "--stop-after-backoffs", "5", "--fake-clock"])
    eq(waits(r), [("rate_limit", w) for w in (60000, 120000, 240000, 480000, 960000)], "420: 1 min doubling")
    eq(r.backoffs[0]["message"], "Exceeded connection limit for user", "the body's text as the message")
    check_gaps(r)
    check(all(rec["auth_ok"] for rec in r.records), "every attempt was signed correctly")


@case
def backoff_429_v2():
    err = {"title": "ConnectionException", "detail": "This stream is currently at the maximum allowed connection limit.",
           "connection_issue": "TooManyConnections", "type": "https://api.twitter.com/2/problems/streaming-connection"}
    t = tweet_lines(1, v2=True)[0]
    r = run({"connections": [[{"respond": 429, "json": err}]] * 3 + [[{"respond": 200}, {"lines": [t]}, {"hold": True}]]},
            "v2", ["--track", "cloud", "--stop-after-lines", "1", "--fake-clock"])
    eq(waits(r), [("rate_limit", w) for w in (60000, 120000, 240000)], "429: 1 min doubling")
    eq(r.backoffs[0]["message"], err["detail"], "Twitter's detail as the message")
    eq(r.lines, [t], "then connected")
    check_gaps(r)


@case
def backoff_reset_after_healthy():
    healthy = [{"respond": 200}, {"lines": [short(2)]}]
    for _ in range(6):
        healthy += [{"sleep_ms": 100}, {"keepalive": 1}]
    healthy += [{"drop": True}]
    conns = [[{"respond": 200}, {"lines": [short(1)]}, {"drop": True}], [{"close_now": True}], [{"close_now": True}],
             healthy, [{"close_now": True}], [{"respond": 200}, {"lines": [short(3)]}, {"hold": True}]]
    r = run({"connections": conns}, "ndjson", ["--stop-after-lines", "3", "--fake-clock", "--healthy-ms", "300"])
    eq([w for _, w in waits(r)], [0, 250, 500, 0, 250],
       "after a connection delivered data for the healthy period, the schedule starts over")


@case
def backoff_no_reset_when_brief():
    conns = [[{"respond": 200}, {"lines": [short(1)]}, {"drop": True}], [{"close_now": True}],
             [{"respond": 200}, {"lines": [short(2)]}, {"drop": True}],
             [{"respond": 200}, {"lines": [short(3)]}, {"hold": True}]]
    r = run({"connections": conns}, "ndjson", ["--stop-after-lines", "3", "--fake-clock"])
    eq([w for _, w in waits(r)], [0, 250, 500], "a brief connection does not reset the schedule")


@case
def backoff_jitter():
    r = run({"connections": [[{"respond": 503, "text": "busy"}]] * 3}, "ndjson",
            ["--stop-after-backoffs", "3", "--fake-clock", "--jitter", "10", "--random", "123"])
    eq([(b["wait_ms"], b["delay_ms"]) for b in r.backoffs], [(5000, 5123), (10000, 10123), (20000, 20123)],
       "nominal waits with jitter added, never less")
    bl = logs(r, "stream_backoff")
    eq([(l["wait_ms"], l["delay_ms"]) for l in bl], [(5000, 5123), (10000, 10123), (20000, 20123)],
       "logged with the nominal and the armed wait")
    check_gaps(r)


@case
def backoff_mixed_kinds():
    conns = [[{"close_now": True}], [{"respond": 503, "text": "x"}], [{"close_now": True}],
             [{"respond": 429, "text": "y"}], [{"respond": 500, "text": "z"}],
             [{"respond": 200}, {"lines": [short(1)]}, {"hold": True}]]
    r = run({"connections": conns}, "ndjson", ["--stop-after-lines", "1", "--fake-clock"])
    eq(waits(r), [("network", 0), ("http_error", 5000), ("network", 250), ("rate_limit", 60000),
                  ("http_error", 10000)], "each kind keeps its own count")
    check_gaps(r)


# ---- permanent failures ----

@case
def auth_401_v1():
    auth = dict(OAUTH, consumer_secret="not-the-secret")
    r = run({"auth": auth}, "v1", ["--track", "cloud"])
    eq([s["state"] for s in r.states], ["connecting", "failed"], "401 is permanent: no retry")
    eq((r.states[-1]["status"], r.states[-1]["reason"], r.states[-1]["message"]),
       (401, "auth", "Could not authenticate you."), "status, reason and Twitter's message")
    f = logs(r, "stream_failed")
    check(len(f) == 1 and f[0]["status"] == 401 and f[0]["level"] == "error", "logged as an error", f)
    eq(len(r.records), 1, "one request only")
    eq(r.stats["final_state"], "failed", "final state")


@case
def auth_403_v2():
    err = {"title": "Forbidden", "type": "about:blank", "status": 403,
           "detail": "When authenticating requests to the Twitter API v2 endpoints, you must use keys and tokens "
                     "from a Twitter developer App that is attached to a Project."}
    r = run({"connections": [[{"respond": 403, "json": err}]]}, "v2", ["--track", "cloud"])
    eq((r.states[-1]["state"], r.states[-1]["status"], r.states[-1]["message"]), ("failed", 403, err["detail"]),
       "403 is permanent")


@case
def auth_404():
    r = run({}, "ndjson", [], url_path="/no/such/stream")
    eq((r.states[-1]["state"], r.states[-1]["status"], r.states[-1]["message"]),
       ("failed", 404, "Sorry, that page does not exist."), "404 is permanent")


@case
def auth_401_v2_rules():
    r = run({"auth": dict(BEARER_AUTH, bearer_token="another-token")}, "v2", ["--track", "cloud"])
    eq(r.states[-1]["state"], "failed", "a bad bearer token fails at the rules call, permanently")
    eq((r.states[-1]["status"], r.states[-1]["message"]), (401, "listing the v2 rules: HTTP 401: Unauthorized"),
       "status and message")


# ---- requests and signing ----

@case
def v1_request_signed():
    track = "cloud computing,#serverless,café ☁,a+b&c=d"
    conns = [[{"respond": 200}, {"lines": [short(1)]}, {"drop": True}],
             [{"respond": 200}, {"lines": [short(2)]}, {"hold": True}]]
    r = run({"connections": conns, "auth": dict(OAUTH, timestamp=1318622958)}, "v1",
            ["--track", track, "--wall-clock", "1318622958", "--stop-after-lines", "2"])
    eq(len(r.records), 2, "two connections")
    for rec in r.records:
        check(rec["auth_ok"], "the server verified the OAuth 1.0a signature")
        eq(rec["method"], "POST", "method")
        eq(rec["headers"].get("content-type"), "application/x-www-form-urlencoded", "content type")
        eq(urllib.parse.parse_qs(rec["body"]), {"track": [track], "stall_warnings": ["true"]}, "form body")
        eq(rec["body"], "track=" + urllib.parse.quote(track, safe="-._~") + "&stall_warnings=true", "body bytes")
    nonces = [fake_stream.parse_oauth_header(rec["headers"]["authorization"])["oauth_nonce"] for rec in r.records]
    check(nonces[0] != nonces[1] and all(len(n) == 32 for n in nonces), "a fresh 32-character nonce each time", nonces)


@case
def v1_request_with_query():
    conns = [[{"respond": 200}, {"lines": [short(1)]}, {"hold": True}]]
    r = run({"connections": conns}, "v1", ["--track", "cloud", "--stop-after-lines", "1"],
            url_path=V1_PATH + "?delimited=no&lang=en%20gb")
    eq(r.records[0]["query"], "delimited=no&lang=en%20gb", "the query is sent as given")
    check(r.records[0]["auth_ok"], "query parameters are signed too")


@case
def v2_request():
    t = tweet_lines(1, v2=True)[0]
    r = run({"connections": [[{"respond": 200}, {"lines": [t]}, {"hold": True}]]}, "v2",
            ["--track", "cloud", "--stop-after-lines", "1"])
    stream_req = [x for x in r.records if x["path"] == V2_PATH][0]
    eq(stream_req["method"], "GET", "method")
    eq(stream_req["headers"]["authorization"], "Bearer " + BEARER, "the bearer token is sent")
    q = urllib.parse.parse_qs(stream_req["query"])
    eq(q.get("expansions"), ["author_id"], "expansions")
    check("username" in q.get("user.fields", [""])[0].split(","), "user.fields has username", q)
    check("created_at" in q.get("tweet.fields", [""])[0].split(","), "tweet.fields has created_at", q)
    eq(r.lines, [t], "lines")


# ---- v2 rules ----

@case
def v2_rules_sync():
    rules = [{"id": "11", "value": "old phrase", "tag": "tweetmatch"},
             {"id": "12", "value": "keep me", "tag": "tweetmatch"},
             {"id": "13", "value": "someone else", "tag": "other"},
             {"id": "14", "value": "untagged"}]
    lines = ['{"data":{"id":"1","text":"a"},"matching_rules":[{"id":"12","tag":"tweetmatch"}]}',
             '{"data":{"id":"2","text":"b"},"matching_rules":[{"id":1001}]}',
             '{"data":{"id":"3","text":"c"},"matching_rules":[{"id":"13","tag":"other"}]}',
             '{"data":{"id":"4","text":"d"}}']
    r = run({"rules": rules, "connections": [[{"respond": 200}, {"lines": lines}, {"hold": True}]]}, "v2",
            ["--track", "keep me,new one,#serverless,keep me", "--stop-after-lines", "4"])
    seq = [(x["method"], x["path"].rsplit("/", 1)[-1], json.loads(x["body"]) if x["body"] else None)
           for x in r.records]
    eq(seq, [("GET", "rules", None),
             ("POST", "rules", {"delete": {"ids": ["11"]}}),
             ("POST", "rules", {"add": [{"value": "new one", "tag": "tweetmatch"},
                                        {"value": "#serverless", "tag": "tweetmatch"}]}),
             ("GET", "stream", None)], "list, delete ours that went, add the missing, then connect")
    eq(sorted((x["value"], x.get("tag")) for x in r.server.rules),
       [("#serverless", "tweetmatch"), ("keep me", "tweetmatch"), ("new one", "tweetmatch"),
        ("someone else", "other"), ("untagged", None)], "rules after the sync: others' left alone")
    s = logs(r, "stream_rules_synced")
    check(len(s) == 1 and (s[0]["kept"], s[0]["added"], s[0]["deleted"], s[0]["refused"]) == (1, 2, 1, 0),
          "sync logged", s)
    eq(r.stats["v2_other_rules"], 1, "matching_rules ids as strings and numbers: one tweet matched only others'")


@case
def v2_rules_numeric_ids():
    rules = [{"id": "1579566213413609472", "value": "stale", "tag": "tweetmatch"},
             {"id": "1579566213413609473", "value": "keep", "tag": "tweetmatch"}]
    lines = ['{"data":{"id":"1","text":"a"},"matching_rules":[{"id":1579566213413609473,"tag":"x"}]}',
             '{"data":{"id":"2","text":"b"},"matching_rules":[{"id":"1579566213413609473"}]}',
             '{"data":{"id":"3","text":"c"},"matching_rules":[{"id":1579566213413609999,"tag":"zzz"}]}']
    r = run({"rules": rules, "rule_ids_numeric": True,
             "connections": [[{"respond": 200}, {"lines": lines}, {"hold": True}]]}, "v2",
            ["--track", "keep", "--stop-after-lines", "3"])
    deletes = [json.loads(x["body"]) for x in r.records if x["body"] and "delete" in x["body"]]
    eq(deletes, [{"delete": {"ids": ["1579566213413609472"]}}], "a numeric id above 2^53 deleted exactly, as a string")
    eq([x["id"] for x in r.server.rules], ["1579566213413609473"], "rules left")
    eq(r.stats["v2_other_rules"], 1, "numeric and string ids both recognised as ours")


@case
def v2_rules_refused():
    r = run({"refuse_values": ["bad rule"], "connections": [[{"respond": 200}, {"hold": True}]]}, "v2",
            ["--track", "good one,bad rule", "--stop-after-connects", "1"])
    ref = logs(r, "stream_rule_refused")
    check(len(ref) == 1 and ref[0]["value"] == "bad rule" and ref[0]["title"] == "UnprocessableEntity"
          and ref[0]["detail"], "the refused rule is reported with the API's reason", ref)
    eq([x["value"] for x in r.server.rules], ["good one"], "the valid rule is added on a second try")
    s = logs(r, "stream_rules_synced")
    check(s and (s[0]["added"], s[0]["refused"]) == (1, 1), "sync summary", s)
    eq(r.stats["connects"], 1, "the stream connects anyway")


@case
def v2_rules_duplicate():
    r = run({"rules": [{"id": "5", "value": "dup", "tag": "other"}],
             "connections": [[{"respond": 200}, {"hold": True}]]}, "v2",
            ["--track", "dup,fresh", "--stop-after-connects", "1"])
    ref = logs(r, "stream_rule_refused")
    check(len(ref) == 1 and ref[0]["value"] == "dup" and ref[0]["title"] == "DuplicateRule", "duplicate reported", ref)
    eq(sorted(x["value"] for x in r.server.rules), ["dup", "fresh"], "rules")


@case
def v2_rules_error_backoff():
    r = run({"rules_status": {"GET": 503}}, "v2", ["--track", "x", "--stop-after-backoffs", "2", "--fake-clock"])
    eq(waits(r), [("http_error", 5000), ("http_error", 10000)], "a failing rules call backs off like the stream")
    check(r.backoffs[0]["message"].startswith("listing the v2 rules: HTTP 503"), "message", r.backoffs[0])


@case
def v2_set_track():
    t = tweet_lines(3, v2=True)
    r = run({"connections": [[{"respond": 200}, {"lines": t[:2]}, {"hold": True}],
                             [{"respond": 200}, {"lines": t[2:]}, {"hold": True}]]}, "v2",
            ["--track", "alpha", "--set-track-at-line", "2", "--new-track", "beta", "--stop-after-lines", "3"])
    eq(r.lines, t, "lines")
    eq(waits(r), [("requested", 0)], "new phrases: reconnect at once, not a failure")
    seq = [(x["method"], x["path"].rsplit("/", 1)[-1], x["body"]) for x in r.records]
    eq([(m, p) for m, p, _ in seq], [("GET", "rules"), ("POST", "rules"), ("GET", "stream"), ("GET", "rules"),
                                     ("POST", "rules"), ("POST", "rules"), ("GET", "stream")], "requests")
    eq([x["value"] for x in r.server.rules], ["beta"], "rules follow the new phrases")


@case
def v1_set_track():
    r = run({"connections": [[{"respond": 200}, {"lines": [short(1), short(2)]}, {"hold": True}],
                             [{"respond": 200}, {"lines": [short(3)]}, {"hold": True}]]}, "v1",
            ["--track", "alpha", "--set-track-at-line", "1", "--new-track", "beta,gamma", "--stop-after-lines", "3"])
    eq([urllib.parse.parse_qs(x["body"])["track"] for x in r.records], [["alpha"], ["beta,gamma"]], "track sent")
    check(all(x["auth_ok"] for x in r.records), "both signed")
    eq(waits(r), [("requested", 0)], "reconnect at once")
    check(r.lines[0] == short(1) and r.lines[-1] == short(3), "lines", r.lines)


# ---- the daemon's controls ----

@case
def pause_resume():
    lines = tweet_lines(300, seed=8)
    r = run({"connections": [[{"respond": 200}, {"lines": lines, "split": "random", "max_chunk": 3000},
                              {"hold": True}]]}, "ndjson",
            ["--pause-at-line", "50", "--pause-ms", "700", "--stall-ms", "250", "--stop-after-lines", "300"])
    eq(r.lines, lines, "every line delivered, in order, across the pause")
    eq(r.stats["lines_while_paused"], 0, "no line delivered while paused")
    eq(waits(r), [], "no stall while paused")
    pl = logs(r, "stream_paused_long")
    check(len(pl) == 1 and pl[0]["stall_ms"] == 250 and pl[0]["level"] == "warn",
          "a pause longer than the allowance is a warning", pl)
    pe = [e for e in r.events if e["ev"] in ("pause", "resume")]
    check(len(pe) == 2 and pe[1]["t"] - pe[0]["t"] >= 700, "paused 700 ms", pe)
    eq(r.stats["pauses"], 1, "pauses")
    check(r.stats["paused_ms"] >= 700, "paused time counted", r.stats["paused_ms"])


@case
def pause_before_connect():
    """Paused at line 1 of a short first chunk: later chunks wait."""
    lines = [short(i) for i in range(40)]
    r = run({"connections": [[{"respond": 200}, {"lines": lines, "split": "bytes"}, {"hold": True}]]}, "ndjson",
            ["--pause-at-line", "1", "--pause-ms", "300", "--stop-after-lines", "40"])
    eq(r.lines, lines, "lines")
    eq(r.stats["lines_while_paused"], 0, "none while paused")
    eq(logs(r, "stream_paused_long"), [], "a pause within the allowance is no warning")


@case
def reconnect_requested():
    first = [short(i) for i in range(1, 11)]
    r = run({"connections": [[{"respond": 200}, {"lines": first}, {"hold": True}],
                             [{"respond": 200}, {"lines": [short(11)]}, {"hold": True}]]}, "ndjson",
            ["--reconnect-at-line", "5", "--stop-after-connects", "2"])
    check(r.lines == first[:len(r.lines)] and len(r.lines) >= 5,
          "the first connection's lines, in order, up to where it was closed", r.lines)
    eq(waits(r), [("requested", 0)], "a requested reconnect is at once, not a failure")
    eq(r.stats["reconnects"]["requested"], 1, "counted")
    eq(len(r.records), 2, "two requests")


@case
def stop_in_callback():
    lines = [short(i) for i in range(100)]
    r = run({"connections": [[{"respond": 200}, {"lines": lines}, {"hold": True}]]}, "ndjson",
            ["--stop-at-line", "10"])
    eq(r.lines, lines[:10], "nothing after stream_stop")
    eq(r.stats["final_state"], "idle", "stopped")


# ---- hostile inputs ----

@case
def stall_after_headers():
    """Headers, then nothing at all, twice: a stall each, backoff 0 then 250 ms."""
    r = run({"connections": [[{"respond": 200}, {"hold": True}], [{"respond": 200}, {"hold": True}],
                             [{"respond": 200}, {"lines": [short(1)]}, {"hold": True}]]},
            "ndjson", ["--stop-after-lines", "1", "--stall-ms", "300"])
    eq(r.lines, [short(1)], "lines")
    eq(waits(r), [("stall", 0), ("stall", 250)], "two stalls after the headers, the second waited for")
    d = logs(r, "stream_disconnected")
    eq([(x["reason"], x["bytes"]) for x in d], [("stall", 0)] * 2, "logged as stalls with no body byte")
    check(all("stall allowance 300 ms" in x["message"] for x in d), "the stall's message", d)
    eq(r.stats["connects"], 3, "connects")


@case
def headers_then_close():
    """Headers, then the server closes without ending the chunked body."""
    r = run({"connections": [[{"respond": 200}, {"close_now": True}], [{"respond": 200}, {"close_now": True}],
                             [{"respond": 200}, {"lines": [short(1)]}, {"hold": True}]]},
            "ndjson", ["--stop-after-lines", "1", "--fake-clock"])
    eq(r.lines, [short(1)], "lines")
    eq(waits(r), [("network", 0), ("network", 250)], "a network error each, with backoff")
    check(all(b["message"] == "transfer closed with outstanding read data remaining" for b in r.backoffs),
          "curl's reason", r.backoffs)
    eq([x["reason"] for x in logs(r, "stream_disconnected")], ["network", "network"], "logged")


CUT = '{"id_str":"77","text":"' + "c" * 200 + '"}'
CHUNK_ERRORS = {
    "size": ([{"raw": CUT[:90]}, {"bad_chunk": "size", "size_line": "zz", "data": CUT[90:] + "\r\n"}],
             "Illegal or missing hexadecimal sequence in chunked-encoding"),
    "size_negative": ([{"raw": CUT[:90]}, {"bad_chunk": "size", "size_line": "-5", "data": CUT[90:] + "\r\n"}],
                      "Illegal or missing hexadecimal sequence in chunked-encoding"),
    "overrun": ([{"bad_chunk": "overrun", "declared": 90, "data": CUT + "\r\n"}],
                "Malformed encoding found in chunked-encoding"),
    "truncated": ([{"bad_chunk": "truncated", "declared": 4096, "data": CUT[:90]}],
                  "transfer closed with outstanding read data remaining"),
}


def chunk_error_case(kind):
    steps, reason = CHUNK_ERRORS[kind]

    def fn():
        r = run({"connections": [[{"respond": 200}, {"lines": [short(1)]}] + steps + [{"hold": True}],
                                 [{"respond": 200}, {"lines": [short(2)]}, {"hold": True}]]},
                "ndjson", ["--stop-after-lines", "2"])
        eq(r.lines, [short(1), short(2)], "the cut line is never delivered, not even its declared part")
        eq([(b["reason"], b["wait_ms"], b["message"]) for b in r.backoffs], [("network", 0, reason)],
           "curl's error, a reconnect at once")
        d = logs(r, "stream_disconnected")
        check(len(d) == 1 and d[0]["reason"] == "network" and d[0]["message"] == reason, "logged", d)
        eq(r.stats["truncated"], 1, "the partial line counted as lost")
    fn.__doc__ = "chunked encoding broken (%s): %s" % (kind, reason)
    return fn


for _k in CHUNK_ERRORS:
    CASES["chunk_" + _k] = chunk_error_case(_k)


@case
def hostile_bytes():
    """The stream does not decode: NUL, 0xFF, overlong forms, a lone \r, a
    byte-order mark pass byte for byte; a line of NULs is not an object."""
    lines = [b'{"id_str":"1","text":"a\x00b"}', b"\x00\x00\x00", b'{"id_str":"\xff\xfe","text":"\xc0\xaf"}',
             b'{"id_str":"4","text":"a\rb"}', b'\xef\xbb\xbf{"id_str":"5"}', b'{"\x00":1}', short(6).encode()]
    data = b"".join(l + b"\r\n" for l in lines)
    r = run({"connections": [[{"respond": 200}, {"raw_bytes_hex": data.hex(), "split": "bytes"}, {"hold": True}]]},
            "ndjson", ["--stop-after-lines", str(len(lines))])
    eq(r.lines_raw, b"".join(l + b"\n" for l in lines), "the lines, byte for byte")
    types = [(e["n"], e["type"]) for e in r.events if e["ev"] == "line"]
    eq(types, [(2, "not_object"), (5, "not_object"), (6, "unknown")], "classification (tweets not listed)")
    eq(r.stats["messages"]["tweet"], 4, "tweets")
    eq(r.stats["bad_lines"], 2, "bad lines")
    bl = logs(r, "stream_bad_line")
    eq([x["start"] for x in bl], ["\u0000\u0000\u0000", "\ufeff{\"id_str\":\"5\"}"], "logged, readably")


@case
def deep_control_messages():
    """Control messages nested 10,000 deep: the stream's own parser (json.c,
    capped at 64 levels) refuses them without harm and logs what it can; a
    disconnect notice it cannot read still reconnects."""
    deep = "[" * 10000 + "]" * 10000
    deep_obj = '{"a":' * 10000 + "1" + "}" * 10000
    seq = ['{"errors":' + deep + "}", '{"limit":' + deep_obj + "}", '{"warning":' + deep_obj + "}",
           "[" * 10000, '{"scrub_geo":' + deep + "}", short(1)]
    disc = '{"disconnect":' + deep_obj + "}"
    r = run({"connections": [[{"respond": 200}, {"lines": seq + [disc], "split": "random", "max_chunk": 999},
                              {"hold": True}],
                             [{"respond": 200}, {"lines": [short(2)]}, {"hold": True}]]},
            "v1", ["--track", "cloud", "--stop-after-lines", str(len(seq) + 2)])
    eq(r.lines, seq + [disc, short(2)], "every line passed on, in order")
    types = [(e["n"], e["type"]) for e in r.events if e["ev"] == "line"]
    eq(types, [(1, "errors"), (2, "limit"), (3, "warning"), (4, "not_object"), (5, "scrub_geo"), (7, "disconnect")],
       "classification (tweets not listed)")
    eq(r.stats["messages"]["tweet"], 2, "tweets")
    em = logs(r, "stream_error_message")
    check(len(em) == 1 and em[0]["detail"].startswith('{"errors":[[[') and len(em[0]["detail"]) == 500,
          "the unreadable errors message logged, cut", em)
    eq([x["undelivered"] for x in logs(r, "stream_limit")], [-1], "limit without a count")
    w = logs(r, "stream_warning")
    check(len(w) == 1 and w[0]["code"] == "" and w[0]["percent_full"] == -1, "warning without fields", w)
    d = logs(r, "stream_disconnect_message")
    check(len(d) == 1 and d[0]["code"] == -1, "disconnect without a code", d)
    eq(waits(r), [("disconnect", 0)], "reconnected")
    eq(r.stats["bad_lines"], 1, "bad lines")


@case
def deep_matching_rules_v2():
    """A v2 tweet whose matching_rules is nested 10,000 deep: passed on,
    counted as ours (unreadable), no harm."""
    t = '{"data":{"id":"1","text":"x"},"matching_rules":' + "[" * 10000 + "]" * 10000 + "}"
    t2 = tweet_lines(1, v2=True)[0]
    r = run({"connections": [[{"respond": 200}, {"lines": [t, t2], "split": "random", "max_chunk": 777},
                              {"hold": True}]]}, "v2", ["--track", "cloud", "--stop-after-lines", "2"])
    eq(r.lines, [t, t2], "lines")
    eq(r.stats["v2_other_rules"], 0, "not counted as others' rules")


@case
def gzip_100mb_line():
    """A gzip body of a few hundred KB that inflates to a 100 MB line: the
    line is dropped as it inflates (memory stays bounded), counted, and the
    next line is delivered on the same connection."""
    size = 100 << 20
    r = run({"connections": [[{"respond": 200, "gzip": True}, {"lines": [short(1)]},
                              {"huge_line": size, "piece": 4 << 20}, {"lines": [short(2)]}, {"hold": True}]]},
            "ndjson", ["--stop-after-lines", "2"])
    eq(r.lines, [short(1), short(2)], "lines")
    eq((r.stats["oversize"], r.stats["bad_lines"], r.stats["connects"]), (1, 1, 1), "oversize, bad, connects")
    dropped = logs(r, "stream_line_dropped")
    check(len(dropped) == 1 and dropped[0]["bytes"] == size + 1, "dropped with its size (and its \\r)", dropped)
    check(r.stats["bytes"] > size, "bytes counted after inflating", r.stats["bytes"])


def tls_script(tmp, names, conns, **kw):
    cert, key = fake_stream.make_cert(tmp, names)
    return cert, dict({"tls": [cert, key], "connections": conns}, **kw)


@case
def tls_untrusted():
    """A self-signed certificate: refused at the handshake with a message
    naming it, retried with backoff; the signed request is never sent."""
    with tempfile.TemporaryDirectory() as tmp:
        cert, script = tls_script(tmp, ("127.0.0.1", "localhost"), [[{"respond": 200}, {"hold": True}]])
        r = run(script, "v1", ["--track", "cloud", "--stop-after-backoffs", "3", "--fake-clock"])
    eq([(b["reason"], b["wait_ms"], b["message"]) for b in r.backoffs],
       [("network", w, "SSL certificate problem: self-signed certificate") for w in (0, 250, 500)],
       "refused, with the certificate problem, and retried with backoff")
    f = logs(r, "stream_connect_failed")
    check(len(f) == 3 and all("self-signed certificate" in x["message"] for x in f), "logged", f)
    eq(r.records, [], "no request over an unverified connection")
    check(len(r.server.tls_errors) == 3, "the server saw the handshakes refused", r.server.tls_errors)


@case
def tls_hostname_mismatch():
    """A certificate the client trusts (AWS_CA_BUNDLE) for another name."""
    with tempfile.TemporaryDirectory() as tmp:
        cert, script = tls_script(tmp, ("stream.example.invalid",), [[{"respond": 200}, {"hold": True}]])
        r = run(script, "v1", ["--track", "cloud", "--stop-after-backoffs", "2", "--fake-clock"],
                env={"AWS_CA_BUNDLE": cert})
    msg = "SSL: no alternative certificate subject name matches target host name '127.0.0.1'"
    eq([(b["reason"], b["wait_ms"], b["message"]) for b in r.backoffs], [("network", 0, msg), ("network", 250, msg)],
       "refused for the name")
    eq(r.records, [], "no request")


@case
def tls_ca_bundle_v1():
    """The certificate trusted through AWS_CA_BUNDLE: connected, the OAuth
    signature made over the https URL."""
    with tempfile.TemporaryDirectory() as tmp:
        cert, script = tls_script(tmp, ("127.0.0.1",), [[{"respond": 200}, {"lines": [short(1)]}, {"hold": True}]])
        r = run(script, "v1", ["--track", "cloud", "--stop-after-lines", "1"], env={"AWS_CA_BUNDLE": cert})
    eq(r.lines, [short(1)], "lines")
    check(len(r.records) == 1 and r.records[0]["auth_ok"], "signed for https", r.records)
    eq(r.server.tls_errors, [], "handshakes refused")


@case
def tls_ca_bundle_v2():
    """v2 over https with AWS_CA_BUNDLE: the rules calls and the stream
    itself trust the same bundle (the stream once ignored it: the rules
    synced, then every stream connection failed on the certificate)."""
    t = tweet_lines(1, v2=True)[0]
    with tempfile.TemporaryDirectory() as tmp:
        cert, script = tls_script(tmp, ("127.0.0.1",), [[{"respond": 200}, {"lines": [t]}, {"hold": True}]])
        r = run(script, "v2", ["--track", "cloud", "--stop-after-lines", "1"],
                env={"AWS_CA_BUNDLE": cert})
    eq(r.lines, [t], "lines")
    eq([(x["method"], x["path"].rsplit("/", 1)[-1]) for x in r.records],
       [("GET", "rules"), ("POST", "rules"), ("GET", "stream")], "requests")
    eq(waits(r), [], "no failed attempt")


# ---- secrets ----

@case
def secrets_redacted():
    """Servers that echo the credentials in their error bodies: the messages are redacted."""
    r1 = run({"auth": dict(OAUTH, consumer_secret="wrong"), "echo_auth_in_errors": True}, "v1",
             ["--track", "cloud", "--log-level", "debug"])
    check("[redacted]" in r1.states[-1]["message"], "the echoed consumer key and token are redacted",
          r1.states[-1]["message"])
    r2 = run({"auth": dict(BEARER_AUTH, bearer_token="x"), "echo_auth_in_errors": True}, "v2",
             ["--track", "cloud", "--log-level", "debug"])
    check("[redacted]" in r2.states[-1]["message"], "the echoed bearer token is redacted", r2.states[-1]["message"])


# ---- configuration from the environment ----

def env_run(env):
    e = {k: v for k, v in os.environ.items()
         if k not in KEYS and k not in ("BEARERTOKEN", "STREAM_URL", "STREAM_STALL_SECONDS", "MAX_LINE_BYTES",
                                        "STREAM_RULE_TAG")}
    e.update(env)
    p = subprocess.run([DRIVE, "--env-check"], env=e, capture_output=True, timeout=20)
    out = p.stdout.decode() + p.stderr.decode()
    no_secrets(out)
    return p.returncode, out.strip()


def env_case(name, env, rc, text):
    def fn():
        got_rc, out = env_run(env)
        eq(got_rc, rc, "exit code (output: %s)" % out)
        check(text in out, "output", "expected to contain: %s" % text, "actual: %s" % out)
    fn.__name__ = name
    CASES[name] = fn


@case
def v1_needs_track():
    e = {k: v for k, v in os.environ.items() if k not in ("BEARERTOKEN", "STREAM_URL")}
    e.update(KEYS)
    p = subprocess.run([DRIVE], env=e, capture_output=True, timeout=20)
    out = (p.stdout + p.stderr).decode()
    no_secrets(out)
    eq(p.returncode, 2, "exit code")
    eq(out.strip(), "config error: no track phrases for the v1.1 stream: set FILTER or the script's track", "message")


env_case("env_v1", dict(KEYS), 0, "mode=v1.1 url=default")
env_case("env_v2", {"BEARERTOKEN": BEARER, "STREAM_STALL_SECONDS": "45", "STREAM_RULE_TAG": "mine"}, 0,
         "mode=v2 url=default stall_ms=45000 max_line=1048576 rule_tag=mine")
env_case("env_ndjson", {"STREAM_URL": "https://replay.example.com/stream", "MAX_LINE_BYTES": "4096"}, 0,
         "mode=ndjson url=set stall_ms=0 max_line=4096")
env_case("env_v1_incomplete", {k: v for k, v in KEYS.items() if k != "ACCESSTOKENSECRET"}, 2,
         "config error: ACCESSTOKENSECRET is not set: the v1.1 stream needs CONSUMERKEY, CONSUMERSECRETKEY, "
         "ACCESSTOKEN and ACCESSTOKENSECRET")
env_case("env_v1_two_missing", {"CONSUMERKEY": KEYS["CONSUMERKEY"], "ACCESSTOKEN": KEYS["ACCESSTOKEN"]}, 2,
         "config error: CONSUMERSECRETKEY and ACCESSTOKENSECRET are not set")
env_case("env_both", dict(KEYS, BEARERTOKEN=BEARER), 2,
         "config error: both the v1.1 keys (CONSUMERKEY, CONSUMERSECRETKEY, ACCESSTOKEN, ACCESSTOKENSECRET) and "
         "BEARERTOKEN (v2) are set: set one of them")
env_case("env_none", {}, 2, "config error: no stream configured: set CONSUMERKEY")
env_case("env_bad_url", {"STREAM_URL": "ftp://example.com/x?token=" + BEARER}, 2,
         "config error: STREAM_URL: must be an http:// or https:// URL with a host")
env_case("env_bad_stall", {"BEARERTOKEN": BEARER, "STREAM_STALL_SECONDS": "soon"}, 2,
         "config error: STREAM_STALL_SECONDS=soon: must be a whole number from 0 to 86400")
env_case("env_empty_is_unset", {"BEARERTOKEN": BEARER, "CONSUMERKEY": ""}, 0, "mode=v2")


def main(argv):
    if argv == ["--list"]:
        print("\n".join(CASES))
        return 0
    if len(argv) != 1 or argv[0] not in CASES:
        print("usage: cases.py --list | cases.py CASE", file=sys.stderr)
        return 2
    try:
        CASES[argv[0]]()
    except Fail as e:
        print("FAIL %s: %s" % (argv[0], e), file=sys.stderr)
        return 1
    print("ok %s" % argv[0])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
