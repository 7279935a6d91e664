#!/usr/bin/env python3
"""cases.py: `tweetmatch run` end to end, one ctest entry per case.

    cases.py --list        the case names
    cases.py CASE          runs one case; exit 0 when it passes

Each case starts its own servers on free ports of 127.0.0.1 (harness.py):
moto_server, the fault-injecting proxy in front of it, the fake Twitter
stream, and runs the real binary as `tweetmatch run` with an environment
built from scratch. It asserts the exit code, the JSON log lines on stdout
(and stderr for configuration errors), the heartbeat, the dead letters (log
and DEADLETTER_FILE) and the table's contents, scanned from moto, against
what `tweetmatch test --plain` makes of the very tweets the stream sent.
Every captured output of every case is searched for every secret.

TM_E2E_SCALE scales the tweet counts (the sanitizer build runs them
smaller); TM_E2E_SANITIZED=1 turns the soak run's RSS check off. See
harness.py for the rest.
"""
import json
import os
import signal
import sys
import threading
import time
import traceback
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (AWS_KEY, AWS_SECRET, BAD_AWS_KEY, BAD_AWS_SECRET, OAUTH, REGION, ROOT, SANITIZED, SCALE, TABLE,  # noqa: E402
                     TWITTER, V1_PATH, Ctx, Fail, Plan, Proxy, check, eq, item_to_plain, scaled, tweet_lines,
                     write_script)

FILTER_LUA = os.path.join(ROOT, "scripts", "filter.lua")
DELETES_LUA = os.path.join(ROOT, "scripts", "deletes.lua")
V11_SAMPLE = os.path.join(ROOT, "tests", "data", "v11_tweets.ndjson")
V2_SAMPLE = os.path.join(ROOT, "tests", "data", "v2_stream.ndjson")
CONTRACT_COUNTERS = ("tweets", "matched", "items", "written", "dead_letter", "rule_errors", "bad_input", "reconnects")

CASES = {}


def case(fn):
    CASES[fn.__name__] = fn
    return fn


# ---- rule scripts ----

def versioned_rule(version, phrases=("cloud computing",), poison_every=0):
    """The default rule's logic with a version tag on each item (and, when
    poison_every, a "poison" attribute the fault proxy refuses)."""
    return """local tm = require "tweetmatch"
local phrases = %s
return {
  track = phrases,
  match = function(t)
    if not tm.track_match(t, phrases) then return nil end
    local it = { id = tm.id(t), user = tm.user(t), date = tm.created_at(t), text = tm.text(t), v = "%s" }
    if %d > 0 and tonumber(it.id) %% %d == 0 then it.poison = true end
    return it
  end,
  examples = {
    { name = "keeps", tweet = { id_str = "1", text = "cloud computing", user = { screen_name = "a" } },
      expect = { id = "1", user = "a", text = "cloud computing", v = "%s" } },
  },
}
""" % ("{ %s }" % ", ".join('"%s"' % p for p in phrases), version, poison_every, max(poison_every, 1), version)


# ---- common checks ----

def check_log_lines(d):
    """Every stdout line is a JSON object with ts, level and event."""
    for e in d.events:
        check(not e["event"].startswith("?"), "%s: a log line that is not a JSON object" % d.name, e.get("line"))
        for k in ("ts", "level", "event"):
            check(k in e, "%s: a log line without %s" % (d.name, k), e)


def check_stats_line(e, namespace="tweetmatch"):
    """The stats line: the contract's counters, and CloudWatch EMF whose
    metrics name top-level numbers."""
    for k in CONTRACT_COUNTERS:
        check(isinstance(e.get(k), int) and e[k] >= 0, "stats: counter %s missing or not a count" % k, e)
    aws = e.get("_aws")
    check(isinstance(aws, dict), "stats: no _aws object", e)
    check(isinstance(aws.get("Timestamp"), int) and abs(aws["Timestamp"] / 1000 - time.time()) < 3600,
          "stats: _aws.Timestamp is not Unix milliseconds", aws.get("Timestamp"))
    cwm = aws.get("CloudWatchMetrics")
    check(isinstance(cwm, list) and cwm, "stats: _aws.CloudWatchMetrics missing", aws)
    names = set()
    for directive in cwm:
        eq(directive.get("Namespace"), namespace, "stats: EMF namespace")
        dims = directive.get("Dimensions")
        check(isinstance(dims, list) and all(isinstance(x, list) for x in dims), "stats: EMF Dimensions", dims)
        for dim_set in dims:
            for dim in dim_set:
                check(isinstance(e.get(dim), str), "stats: EMF dimension %s is not a top-level string" % dim)
        metrics = directive.get("Metrics")
        check(isinstance(metrics, list) and metrics, "stats: EMF Metrics", directive)
        for m in metrics:
            n = m.get("Name")
            check(isinstance(n, str) and n, "stats: an EMF metric without a name", m)
            check(isinstance(e.get(n), (int, float)) and not isinstance(e.get(n), bool),
                  "stats: EMF metric %s names no top-level number" % n, e)
            check(m.get("Unit", "Count") in ("Count", "None", "Count/Second", "Bytes", "Milliseconds"),
                  "stats: EMF unit", m)
            names.add(n)
    for want in ("Tweets", "Matched", "Items", "Written", "DeadLetters", "RuleErrors", "BadInput", "Reconnects",
                 "QueueDepth"):
        check(want in names, "stats: EMF metric %s missing" % want, sorted(names))


def finish(cx, d, code=0, deadline_s=None, namespace="tweetmatch", dl_file=True):
    """Stops d with SIGTERM (unless it has exited) and checks what every run
    must show: the exit code, a final stats line that adds up, JSON log
    lines, the dead letters in the log and the file alike."""
    if d.proc.poll() is None:
        got, took = d.stop()
        if deadline_s is not None:
            check(took <= deadline_s, "%s: took %.1f s to stop, over %.1f s" % (d.name, took, deadline_s))
    else:
        got = d.wait()
    check(got == code, "%s: exit code %s, expected %d" % (d.name, got, code), d.stderr[-3000:],
          *["log: " + l[:300] for l in d.lines[-8:]])
    check_log_lines(d)
    st = d.final_stats()
    for e in d.of("stats"):
        check_stats_line(e, namespace)
    eq(st["written"] + st["dead_letter"], st["items"], "%s: final stats: written + dead_letter = items" % d.name)
    eq(st["queue_depth"], 0, "%s: final stats: queue_depth" % d.name)
    eq(d.of("stats")[-1], d.events[-1], "%s: the stats line is the last line" % d.name)
    dls = d.of("dead_letter")
    eq(len(dls), st["dead_letter"], "%s: dead_letter lines in the log" % d.name)
    if dl_file:
        in_file = cx.deadletters_file()
        eq(sorted(json.dumps(x["item"], sort_keys=True) for x in in_file),
           sorted(json.dumps(x["item"], sort_keys=True) for x in dls), "%s: dead letters: file and log" % d.name)
    if cx.proxy is not None:
        eq(cx.proxy.violations, [], "requests the proxy found malformed")
    return st


def wait_stats(d, pred, timeout=60, what="stats"):
    return d.wait_for(lambda e: e.get("event") == "stats" and pred(e), timeout, what)


def drained(n_tweets):
    return lambda e: e["tweets"] >= n_tweets and e["queue_depth"] == 0 and e["written"] + e["dead_letter"] == e["items"]


def dead_ids(d):
    return {item_to_plain(e["item"])["id"]: e for e in d.of("dead_letter")}


def check_table(cx, d, expected, may_be_dead=None):
    """The table holds exactly the expected items, less the dead letters;
    every dead letter is an expected item (may_be_dead: which ids may be)."""
    table = cx.scan_plain()
    dead = dead_ids(d)
    for i, e in dead.items():
        check(i in expected, "a dead letter for an item the rule did not produce", e)
        eq(item_to_plain(e["item"]), expected[i], "a dead letter's item")
        if may_be_dead is not None:
            check(i in may_be_dead, "an unexpected dead letter", e)
    for i, it in expected.items():
        if i in dead and "may have been written" in dead[i].get("reason", ""):
            continue  # abandoned in flight: in the table or not
        if i in dead:
            check(i not in table, "a dead-lettered item is in the table", i, dead[i].get("reason"))
            continue
        check(i in table, "an item the rule produced is not in the table", it)
        eq(table[i], it, "the row of %s" % i)
    extra = set(table) - set(expected)
    check(not extra, "rows the rule did not produce", sorted(extra)[:10])
    return table, dead


def stream_requests(srv):
    with srv.lock:
        return [r for r in srv.records if r["path"] == srv.stream_path]


def track_of_request(r):
    return urllib.parse.parse_qs(r["body"]).get("track", [None])[0]


# ---- the cases ----

@case
def faults_10k():
    """10,000 tweets through stream drops, a cut message, a 420, a stall, a
    disconnect notice, with DynamoDB throttling, 500s, resets, partial
    batches, bad checksums and refused items all at once."""
    n = scaled(10000, 500)
    part = n // 5
    starts = [1 + k * part for k in range(5)]
    counts = [part] * 4 + [n - 4 * part]
    batches = [tweet_lines(c, s, 100 + k) for k, (c, s) in enumerate(zip(counts, starts))]
    cut = ('{"created_at":"Wed Oct 10 20:19:24 +0000 2018","id":999999999,"id_str":"999999999",'
           '"text":"cloud computing, cut off mid-mess')
    stall_s = 3
    split = {"split": "random", "max_chunk": 8192}
    # The 420 comes late: the writer works through the backlog during
    # Twitter's minute of calm.
    script = {"auth": OAUTH, "connections": [
        [{"respond": 200}, dict({"lines": batches[0], "seed": 1}, **split), {"drop": True}],
        [{"respond": 200}, {"keepalive": 2}, dict({"lines": batches[1], "seed": 2}, **split), {"raw": cut},
         {"drop": True}],
        [{"respond": 200}, dict({"lines": batches[2], "seed": 3}, **split), {"sleep_ms": (stall_s + 4) * 1000}],
        [{"respond": 200}, dict({"lines": batches[3], "seed": 4}, **split),
         {"lines": ['{"disconnect":{"code":7,"stream_name":"e2e","reason":"admin logout"}}']}, {"hold": True}],
        [{"respond": 420, "json": {"errors": [{"code": 420, "message": "Enhance Your Calm"}]}}],
        [{"respond": 200}, dict({"lines": batches[4], "seed": 5}, **split), {"end": True}],
    ]}
    with Ctx("faults_10k") as cx:
        cx.table()
        # A bad checksum on the first two answers as well as 2 % of the rest:
        # under valgrind (a tenth of the tweets, about 150 requests) the mix
        # alone left it out about one run in twenty.
        cx.proxy_start(Plan(throttle=0.08, e500=0.04, reset=0.04, partial=0.08, bad_crc=0.02, first_bad_crc=2,
                            seed=5))
        rule = write_script(cx, "poison.lua", versioned_rule("A", poison_every=53))
        all_lines = [l for b in batches for l in b]
        expected, counts_ = cx.expected_items(rule, all_lines)
        poisoned = {i for i, it in expected.items() if it.get("poison")}
        check(poisoned, "the corpus has no poisoned item")
        srv = cx.stream(script)
        d = cx.daemon(srv, MATCHER_SCRIPT=rule, STREAM_STALL_SECONDS=stall_s, STATS_INTERVAL_SECONDS=1)
        wait_stats(d, drained(n), timeout=200, what="stats with every tweet processed and the queue empty")
        st = finish(cx, d)
        eq(st["tweets"], n, "tweets")
        eq(st["items"], len(expected), "items")
        eq(st["matched"], counts_["matched"], "matched")
        eq((st["rule_errors"], st["bad_input"]), (0, 0), "rule errors, bad input")
        check(st["reconnects"] >= 5, "reconnects: %d, expected at least 5" % st["reconnects"])
        eq(st["dead_letter"], len(poisoned), "dead letters: the poisoned items")
        table, dead = check_table(cx, d, expected, may_be_dead=poisoned)
        eq(set(dead), poisoned, "dead-lettered ids")
        for e in dead.values():
            check("ValidationException" in e["reason"], "a dead letter's reason", e["reason"])
        check("999999999" not in table, "the message cut by the drop was written")
        ends = {e.get("reason") for e in d.of("stream_disconnected") + d.of("stream_connect_failed")}
        for want in ("rate_limit", "stall", "disconnect"):
            check(want in ends, "no stream end for reason %s" % want, sorted(ends))
        check(ends & {"closed", "network"}, "no dropped connection seen", sorted(ends))
        waits = [e for e in d.of("stream_backoff") if e.get("reason") == "rate_limit"]
        check(waits and waits[0]["wait_ms"] == 60000, "the 420 backoff is not Twitter's 60 s", waits)
        reqs = stream_requests(srv)
        check(len(reqs) >= 6, "stream connections: %d" % len(reqs))
        for r in reqs:
            check(r["auth_ok"] and r["method"] == "POST", "a stream request the server refused", r["headers"])
            eq(track_of_request(r), "cloud computing", "the track parameter")
        for k in ("ProvisionedThroughputExceededException", "InternalServerError", "reset", "partial", "bad_crc"):
            check(cx.proxy.get(k) > 0, "the proxy injected no %s" % k, cx.proxy.counts)
        print("tweets %d, items %d, written %d, dead letters %d, reconnects %d, proxy %s" % (
            st["tweets"], st["items"], st["written"], st["dead_letter"], st["reconnects"], cx.proxy.counts))


def burst(name, sig, n, plan, env, deadline_s, stop_when):
    """A burst of n tweets on one connection; sig once stop_when(stats)."""
    lines = tweet_lines(n, 1, 7)
    with Ctx(name) as cx:
        cx.table()
        cx.proxy_start(plan)
        srv = cx.stream({"auth": OAUTH, "connections": [
            [{"respond": 200}, {"lines": lines, "split": "random", "max_chunk": 16384, "seed": 3}, {"hold": True}]]})
        d = cx.daemon(srv, STATS_INTERVAL_SECONDS=1, SHUTDOWN_DEADLINE_SECONDS=deadline_s, **env)
        wait_stats(d, stop_when, timeout=60, what="stats in the middle of the burst")
        t = time.time()
        d.signal(sig)
        code = d.wait(deadline_s + 15)
        took = time.time() - t
        check(took <= deadline_s + 2, "exit %.1f s after the signal, deadline %d s" % (took, deadline_s))
        st = finish(cx, d, code=0) if code == 0 else check(False, "exit code %s" % code, d.stderr[-2000:])
        check(0 < st["tweets"] < n, "the signal came %s the burst (tweets %d of %d)" % (
            "after" if st["tweets"] >= n else "before", st["tweets"], n))
        # The stream is one connection: the tweets processed are a prefix.
        expected, counts = cx.expected_items(FILTER_LUA, lines[:st["tweets"]])
        eq(st["items"], len(expected), "items: those of the tweets read")
        table, dead = check_table(cx, d, expected)
        shut = d.of("shutdown")
        check(shut and shut[0]["reason"] == "signal", "no shutdown line for the signal", shut)
        print("signal after %d tweets (%d items; %d queued at the signal); stopped in %.2f s: written %d, "
              "dead letters %d" % (st["tweets"], st["items"], shut[0]["queue_depth"], took, st["written"],
                                   st["dead_letter"]))
        return st, dead


@case
def sigterm_burst():
    """SIGTERM in the middle of a burst: exit 0 within the deadline, every
    item of every tweet read is in the table."""
    n = scaled(20000, 2000)
    st, dead = burst("sigterm_burst", signal.SIGTERM, n, Plan(delay_s=0.01), {"DDB_QUEUE_MAX": 1500}, 20,
                     lambda e: e["tweets"] >= n // 5)
    eq(st["dead_letter"], 0, "dead letters (the flush had time)")


@case
def sigint_burst():
    """SIGINT does the same."""
    n = scaled(8000, 1000)
    st, dead = burst("sigint_burst", signal.SIGINT, n, Plan(delay_s=0.01), {"DDB_QUEUE_MAX": 800}, 20,
                     lambda e: e["tweets"] >= n // 5)
    eq(st["dead_letter"], 0, "dead letters (the flush had time)")


@case
def sigterm_deadline():
    """SIGTERM while DynamoDB is unreachable: the flush gives up at the
    deadline, what is left is dead-lettered (log and file), exit 0 in time."""
    n = scaled(6000, 1000)
    st, dead = burst("sigterm_deadline", signal.SIGTERM, n, Plan(down_after=4), {"DDB_QUEUE_MAX": 1000}, 3,
                     lambda e: e["tweets"] >= 300 and e["written"] > 0)
    check(st["dead_letter"] > 0, "no dead letters, though DynamoDB was down")
    reasons = {e["reason"].split(":")[0].split(";")[0] for e in dead.values()}
    check(any("shutdown deadline" in e["reason"] for e in dead.values()), "no 'shutdown deadline' dead letter",
          sorted(reasons))


def paced(lines, step, pause_ms):
    steps = []
    for i in range(0, len(lines), step):
        steps.append({"lines": lines[i:i + step], "split": "random", "max_chunk": 4096, "seed": i})
        steps.append({"sleep_ms": pause_ms})
    return steps


def versions_in_order(table, ids_in_stream_order):
    """The version tags of the rows, in stream order, as runs: [("A", n), ("B", m)]."""
    runs = []
    for i in ids_in_stream_order:
        if i not in table:
            continue
        v = table[i]["v"]
        if runs and runs[-1][0] == v:
            runs[-1][1] += 1
        else:
            runs.append([v, 1])
    return [tuple(r) for r in runs]


@case
def reload_sighup():
    """SIGHUP mid-stream: the new script takes over from one tweet to the
    next; no tweet lost or processed twice; the same track, so no reconnect."""
    n = scaled(4000, 800)
    lines = tweet_lines(n, 1, 21)
    with Ctx("reload_sighup") as cx:
        cx.table()
        cx.proxy_start()
        rule = write_script(cx, "rule.lua", versioned_rule("A"))
        expected, _ = cx.expected_items(rule, lines)
        srv = cx.stream({"auth": OAUTH, "connections": [
            [{"respond": 200}] + paced(lines, max(1, n // 10), 400) + [{"hold": True}]]})
        d = cx.daemon(srv, MATCHER_SCRIPT=rule, RELOAD_CHECK_SECONDS=0, STATS_INTERVAL_SECONDS=1)
        wait_stats(d, lambda e: e["tweets"] >= n // 5, what="stats with some tweets")
        write_script(cx, "rule.lua", versioned_rule("B"))
        d.signal(signal.SIGHUP)
        ev = d.wait_event("reload", timeout=10)
        eq((ev["trigger"], ev["track_changed"]), ("SIGHUP", False), "the reload line")
        wait_stats(d, drained(n), timeout=60, what="stats with every tweet processed")
        st = finish(cx, d)
        eq((st["tweets"], st["items"], st["reloads"]), (n, len(expected), 1), "tweets, items, reloads")
        table = cx.scan_plain()
        eq(set(table), set(expected), "the ids in the table")
        for i, it in expected.items():
            eq({k: v for k, v in table[i].items() if k != "v"}, {k: v for k, v in it.items() if k != "v"},
               "the row of %s" % i)
        order = [json.loads(l)["id_str"] for l in lines]
        runs = versions_in_order(table, order)
        check(len(runs) == 2 and runs[0][0] == "A" and runs[1][0] == "B",
              "rows by version, in stream order: expected A... then B...", runs)
        eq(len(stream_requests(srv)), 1, "stream connections (the track did not change)")
        print("reload after %d A rows, then %d B rows" % (runs[0][1], runs[1][1]))


@case
def reload_file():
    """Rewriting MATCHER_SCRIPT (RELOAD_CHECK_SECONDS=1) reloads it; its new
    track reconnects the stream with the new phrases."""
    k = scaled(2000, 400)
    m = scaled(2000, 400)
    first = tweet_lines(k, 1, 31)
    second = tweet_lines(m, k + 1, 32)
    phrases_b = ("cloud computing", "serverless lambda")
    with Ctx("reload_file") as cx:
        cx.table()
        cx.proxy_start()
        rule = write_script(cx, "rule.lua", versioned_rule("A"))
        exp_a, _ = cx.expected_items(rule, first)
        rule_b = write_script(cx, "rule_b.lua", versioned_rule("B", phrases_b))
        exp_b, _ = cx.expected_items(rule_b, second)
        srv = cx.stream({"auth": OAUTH, "connections": [
            [{"respond": 200}, {"lines": first, "split": "random", "max_chunk": 8192}, {"hold": True}],
            [{"respond": 200}, {"lines": second, "split": "random", "max_chunk": 8192}, {"hold": True}]]})
        d = cx.daemon(srv, MATCHER_SCRIPT=rule, RELOAD_CHECK_SECONDS=1, STATS_INTERVAL_SECONDS=1)
        wait_stats(d, drained(k), what="stats with the first connection's tweets")
        with open(rule, "w", encoding="utf-8") as f:  # in place, as an editor would
            f.write(versioned_rule("B", phrases_b))
        ev = d.wait_event("reload", timeout=10)
        eq((ev["trigger"], ev["track_changed"], ev["track_phrases"]), ("file changed", True, 2), "the reload line")
        wait_stats(d, drained(k + m), timeout=60, what="stats with every tweet processed")
        st = finish(cx, d)
        expected = dict(exp_a, **exp_b)
        eq((st["tweets"], st["items"], st["reloads"]), (k + m, len(expected), 1), "tweets, items, reloads")
        check_table(cx, d, expected)
        reqs = stream_requests(srv)
        eq([track_of_request(r) for r in reqs], ["cloud computing", ",".join(phrases_b)],
           "the track of each stream connection")
        check(all(r["auth_ok"] for r in reqs), "a stream request with a bad signature")
        ends = [e["reason"] for e in d.of("stream_disconnected")]
        eq(ends, ["requested"], "stream ends")


BROKEN_SYNTAX = """local tm = require "tweetmatch"
return {
  match = function(t)
    return { id = tm.id(t) ]]
  end,
}
"""
BROKEN_EXAMPLES = versioned_rule("B").replace('expect = { id = "1"', 'expect = { id = "2"')
BROKEN_RUNTIME = 'local x = nil\nreturn { match = function() end, track = x.y }\n'


@case
def reload_broken():
    """Reloads to a script that does not compile, one whose examples fail, one
    that fails at load and a missing file: each refused with its error, and
    the old rules go on without a gap."""
    n = scaled(3000, 600)
    lines = tweet_lines(n, 1, 41)
    with Ctx("reload_broken") as cx:
        cx.table()
        cx.proxy_start()
        rule = write_script(cx, "rule.lua", versioned_rule("A"))
        expected, _ = cx.expected_items(rule, lines)
        srv = cx.stream({"auth": OAUTH, "connections": [
            [{"respond": 200}] + paced(lines, max(1, n // 12), 500) + [{"hold": True}]]})
        d = cx.daemon(srv, MATCHER_SCRIPT=rule, RELOAD_CHECK_SECONDS=1, STATS_INTERVAL_SECONDS=1)
        wait_stats(d, lambda e: e["tweets"] > 0, what="stats with some tweets")
        write_script(cx, "rule.lua", BROKEN_SYNTAX)
        e1 = d.wait_event("reload_failed", timeout=10)
        eq(e1["trigger"], "file changed", "the first refusal's trigger")
        check("rule.lua:4:" in e1["error"], "the syntax error does not name the file and line", e1["error"])
        write_script(cx, "rule.lua", BROKEN_EXAMPLES)
        d.signal(signal.SIGHUP)
        e2 = d.wait_for(lambda e: e.get("event") == "reload_failed" and "example" in e.get("error", ""), 10,
                        "a refusal for failing examples")
        write_script(cx, "rule.lua", BROKEN_RUNTIME)
        e3 = d.wait_for(lambda e: e.get("event") == "reload_failed" and e is not e2 and e is not e1
                        and "rule.lua:2:" in e.get("error", ""), 10, "a refusal for an error at load")
        os.unlink(rule)
        d.signal(signal.SIGHUP)
        d.wait_for(lambda e: e.get("event") == "reload_failed" and e.get("trigger") == "SIGHUP"
                   and e not in (e1, e2, e3) and "rule.lua" in e.get("error", ""), 10, "a refusal for a missing file")
        time.sleep(2.5)  # the file check must not refuse the same file again and again
        wait_stats(d, drained(n), timeout=60, what="stats with every tweet processed")
        st = finish(cx, d)
        eq(d.of("reload"), [], "reload lines")
        fails = d.of("reload_failed")
        check(4 <= len(fails) <= 6, "%d reload_failed lines for 4 bad versions" % len(fails),
              *[(f["trigger"], f["error"][:120]) for f in fails])
        for f in fails:
            check("previous rules" in f.get("action", ""), "reload_failed does not say the old rules go on", f)
        eq((st["tweets"], st["items"], st["reloads"]), (n, len(expected), 0), "tweets, items, reloads")
        table, _ = check_table(cx, d, expected)
        check(all(r["v"] == "A" for r in table.values()), "a row not from the old rules")


RULE_ERRORS = """local tm = require "tweetmatch"
local phrases = { "cloud computing" }
return {
  track = phrases,
  match = function(t)
    local id = tonumber(tm.id(t))
    if id % 10 == 3 then error("boom on " .. tm.id(t)) end
    if id % 10 == 7 then return { id = tm.id(t), bad = function() end } end
    if id % 50 == 9 then while true do end end
    if not tm.track_match(t, phrases) then return nil end
    return { id = tm.id(t), user = tm.user(t), text = tm.text(t) }
  end,
}
"""


@case
def rule_errors():
    """A script whose match throws, returns a bad value or loops for some
    tweets: each a rule_error line with the tweet id, counted; the others
    written."""
    n = scaled(2000, 400)
    lines = tweet_lines(n, 1, 51)
    with Ctx("rule_errors") as cx:
        cx.table()
        cx.proxy_start()
        rule = write_script(cx, "throws.lua", RULE_ERRORS)
        expected, counts = cx.expected_items(rule, lines)
        failing = {str(i) for i in range(1, n + 1) if i % 10 in (3, 7) or i % 50 == 9}
        eq(counts["errors"], len(failing), "tweetmatch test's error count")
        srv = cx.stream({"auth": OAUTH, "connections": [
            [{"respond": 200}, {"lines": lines, "split": "random", "max_chunk": 8192}, {"hold": True}]]})
        d = cx.daemon(srv, MATCHER_SCRIPT=rule, STATS_INTERVAL_SECONDS=1)
        wait_stats(d, drained(n), what="stats with every tweet processed")
        st = finish(cx, d)
        eq((st["tweets"], st["rule_errors"], st["items"], st["written"]),
           (n, len(failing), len(expected), len(expected)), "tweets, rule_errors, items, written")
        errs = d.of("rule_error")
        eq({e["tweet_id"] for e in errs}, failing, "the tweet ids of the rule_error lines")
        for e in errs:
            i = int(e["tweet_id"])
            want = "boom on %d" % i if i % 10 == 3 else None
            if want:
                check(want in e["error"], "rule_error message", e)
        check_table(cx, d, expected)


@case
def deletes():
    """Delete notices go to the rule's on_delete; the keys it returns are
    deleted, after the puts of the same keys."""
    lines = tweet_lines(scaled(600, 200), 1, 61)
    notices = []
    with Ctx("deletes") as cx:
        cx.table()
        cx.proxy_start()
        expected_puts, _ = cx.expected_items(DELETES_LUA, lines)
        gone = sorted(expected_puts)[::3]
        for i in gone + ["123456789"]:
            notices.append('{"delete":{"status":{"id":%s,"id_str":"%s","user_id":1,"user_id_str":"1"},'
                           '"timestamp_ms":"1539203000001"}}' % (i, i))
        srv = cx.stream({"auth": OAUTH, "connections": [
            [{"respond": 200}, {"lines": lines + notices, "split": "random", "max_chunk": 4096}, {"hold": True}]]})
        d = cx.daemon(srv, MATCHER_SCRIPT=DELETES_LUA, STATS_INTERVAL_SECONDS=1)
        wait_stats(d, lambda e: drained(len(lines))(e) and e["deletes"] == len(notices), what="stats, drained")
        st = finish(cx, d)
        eq((st["tweets"], st["deletes"], st["items"]), (len(lines), len(notices), len(expected_puts) + len(notices)),
           "tweets, deletes, items")
        table = cx.scan_plain()
        want = {i: it for i, it in expected_puts.items() if i not in set(gone)}
        eq(sorted(table), sorted(want), "ids in the table after the deletes")
        for i, it in want.items():
            eq(table[i], it, "the row of %s" % i)


class CredsServer:
    """The ECS container credentials endpoint, on loopback."""

    def __init__(self, key, secret, token, auth_token):
        body = json.dumps({"AccessKeyId": key, "SecretAccessKey": secret, "Token": token,
                           "Expiration": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 6 * 3600)),
                           "RoleArn": "arn:aws:iam::123456789012:role/tweetmatch-task"}).encode()
        self.requests = []
        outer = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                outer.requests.append((self.path, self.headers.get("Authorization")))
                ok = self.headers.get("Authorization") == auth_token
                data = body if ok else b'{"message":"bad token"}'
                self.send_response(200 if ok else 401)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@case
def task_env():
    """The original Fargate task definition's environment, unchanged
    (DYNAMODBTABLE, AWSREGION, FILTER, the four v1.1 keys), with the task
    role's credentials from the container endpoint; STREAM_URL points at the
    fake server, which verifies each OAuth 1.0a signature. No tuning
    variables, no HEALTH_FILE, no DEADLETTER_FILE."""
    with open(V11_SAMPLE, encoding="utf-8") as f:
        lines = [l.rstrip("\n") for l in f if l.strip()]
    key, secret = "ASIAE2ETASKROLE00001", "E2eTaskRoleSecret/TTsecret+000000003"
    token = "E2eTaskSessionToken//////////SECRETtokenVALUE+abc="
    auth = "E2eContainerAuthToken-SECRET-0004"
    with Ctx("task_env") as cx:
        cx.secrets += [secret, token, auth]
        cx.table()
        cx.proxy_start()
        cx.proxy.keys = {key: (secret, token)}
        creds = CredsServer(key, secret, token, auth)
        d = None
        try:
            expected, _ = cx.expected_items(FILTER_LUA, lines, {"FILTER": "cloud computing"})
            check(expected, "the sample has no matching tweet")
            srv = cx.stream({"auth": OAUTH, "connections": [
                [{"respond": 200}, {"lines": lines, "split": "random", "max_chunk": 512}, {"hold": True}]]})
            env = {k: None for k in ("HEALTH_FILE", "DEADLETTER_FILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                     "AWS_EC2_METADATA_DISABLED")}
            env.update(AWS_CONTAINER_CREDENTIALS_FULL_URI="http://127.0.0.1:%d/v2/credentials/e2e" % creds.port,
                       AWS_CONTAINER_AUTHORIZATION_TOKEN=auth)
            health = os.path.join(cx.tmp, "health.json")
            d = cx.daemon(srv, **env)
            start = d.wait_event("start")
            eq((start["stream_mode"], start["credentials"], start["table"], start["region"]),
               ("v1.1", "ecs", TABLE, REGION), "the start line")
            for k in TWITTER:
                eq(start.get(k), "set", "the start line's %s" % k)
            d.wait_event("stream_connected")
            deadline = time.time() + 30
            while time.time() < deadline and len(cx.scan()) < len(expected):
                time.sleep(0.2)
            st = finish(cx, d, dl_file=False)
            eq((st["tweets"], st["items"], st["written"]), (len(lines), len(expected), len(expected)),
               "tweets, items, written")
            check_table(cx, d, expected)
            reqs = stream_requests(srv)
            eq(len(reqs), 1, "stream connections")
            r = reqs[0]
            check(r["auth_ok"], "the fake server refused the OAuth signature")
            eq((r["method"], r["path"], track_of_request(r)), ("POST", V1_PATH, "cloud computing"), "the request")
            check(r["headers"].get("content-type", "").startswith("application/x-www-form-urlencoded"),
                  "the form's content type", r["headers"])
            eq(urllib.parse.parse_qs(r["body"]).get("stall_warnings"), ["true"], "stall_warnings")
            check(creds.requests and all(a == auth for _, a in creds.requests), "the credentials endpoint's calls",
                  creds.requests)
            check(not os.path.exists(health) and not os.path.exists(os.path.join(cx.tmp, "deadletters.ndjson")),
                  "files written where no variable said")
        finally:
            creds.stop()
            if d is not None:
                _remove_default_health(d)


def _remove_default_health(d):
    path = "/tmp/tweetmatch.health"
    try:
        with open(path) as f:
            if json.load(f).get("pid") == d.pid:
                os.unlink(path)
    except (OSError, ValueError):
        pass


@case
def v2_env():
    """BEARERTOKEN: the v2 filtered stream, its rules set from FILTER before
    connecting, the bundled v2 sample written."""
    with open(V2_SAMPLE, encoding="utf-8") as f:
        lines = [l.rstrip("\n") for l in f if l.strip()]
    bearer = "E2eBearer-AAAAAAAAAAAAAAAAAAAAAMLheAAAAAAA0%2BuSeid-SECRET"
    with Ctx("v2_env") as cx:
        cx.secrets.append(bearer)
        cx.table()
        cx.proxy_start()
        expected, _ = cx.expected_items(FILTER_LUA, lines)
        srv = cx.stream({"stream_path": "/2/tweets/search/stream", "auth": {"mode": "bearer", "bearer_token": bearer},
                         "rules": [{"id": "1", "value": "someone else's", "tag": "other"}],
                         "connections": [[{"respond": 200}, {"lines": lines}, {"hold": True}]]})
        env = {k: None for k in TWITTER}
        d = cx.daemon(srv, BEARERTOKEN=bearer, STATS_INTERVAL_SECONDS=1, **env)
        start = d.wait_event("start")
        eq(start["stream_mode"], "v2", "stream mode")
        wait_stats(d, lambda e: e["tweets"] + e["control"] >= len(lines) and drained(0)(e), what="stats, drained")
        st = finish(cx, d)
        eq(st["items"], len(expected), "items")
        check_table(cx, d, expected)
        with srv.lock:
            rules = sorted((r["value"], r.get("tag")) for r in srv.rules)
        eq(rules, [("cloud computing", "tweetmatch"), ("someone else's", "other")], "the v2 rules after start")


# ---- configuration and permanent errors ----

CONFIG = [
    # name, changes to the environment, what the message must name
    ("missing_DYNAMODBTABLE", {"DYNAMODBTABLE": None}, ["DYNAMODBTABLE"]),
    ("bad_DYNAMODBTABLE", {"DYNAMODBTABLE": "my table!"}, ["DYNAMODBTABLE"]),
    ("missing_AWSREGION", {"AWSREGION": None}, ["AWSREGION"]),
    ("bad_AWSREGION", {"AWSREGION": "US East 1"}, ["AWSREGION"]),
    ("missing_FILTER", {"FILTER": None}, ["FILTER"]),
    ("missing_CONSUMERKEY", {"CONSUMERKEY": None}, ["CONSUMERKEY"]),
    ("missing_CONSUMERSECRETKEY", {"CONSUMERSECRETKEY": None}, ["CONSUMERSECRETKEY"]),
    ("missing_ACCESSTOKEN", {"ACCESSTOKEN": None}, ["ACCESSTOKEN"]),
    ("missing_ACCESSTOKENSECRET", {"ACCESSTOKENSECRET": None}, ["ACCESSTOKENSECRET"]),
    ("missing_stream", {"CONSUMERKEY": None, "CONSUMERSECRETKEY": None, "ACCESSTOKEN": None,
                        "ACCESSTOKENSECRET": None, "STREAM_URL": None}, ["CONSUMERKEY", "BEARERTOKEN", "STREAM_URL"]),
    ("v1_and_v2", {"BEARERTOKEN": "E2eBearerBoth-SECRET-0005"}, ["BEARERTOKEN", "CONSUMERKEY"]),
    ("bad_STREAM_URL", {"STREAM_URL": "ftp://127.0.0.1/stream"}, ["STREAM_URL"]),
    ("missing_AWS_SECRET_ACCESS_KEY", {"AWS_SECRET_ACCESS_KEY": None}, ["AWS_SECRET_ACCESS_KEY"]),
    ("missing_AWS_ACCESS_KEY_ID", {"AWS_ACCESS_KEY_ID": None}, ["AWS_ACCESS_KEY_ID"]),
    ("bad_AWS_ENDPOINT_URL_DYNAMODB", {"AWS_ENDPOINT_URL_DYNAMODB": "dynamo at home"}, ["AWS_ENDPOINT_URL_DYNAMODB"]),
    ("bad_SHUTDOWN_DEADLINE_SECONDS", {"SHUTDOWN_DEADLINE_SECONDS": "soon"}, ["SHUTDOWN_DEADLINE_SECONDS"]),
    ("bad_RELOAD_CHECK_SECONDS", {"RELOAD_CHECK_SECONDS": "-1"}, ["RELOAD_CHECK_SECONDS"]),
    ("bad_STATS_INTERVAL_SECONDS", {"STATS_INTERVAL_SECONDS": "0"}, ["STATS_INTERVAL_SECONDS"]),
    ("bad_HEALTH_INTERVAL_SECONDS", {"HEALTH_INTERVAL_SECONDS": "1e3"}, ["HEALTH_INTERVAL_SECONDS"]),
    ("bad_HEALTH_STREAM_DOWN_SECONDS", {"HEALTH_STREAM_DOWN_SECONDS": "x"}, ["HEALTH_STREAM_DOWN_SECONDS"]),
    ("bad_HEALTH_WRITER_STUCK_SECONDS", {"HEALTH_WRITER_STUCK_SECONDS": ""  + "9" * 30},
     ["HEALTH_WRITER_STUCK_SECONDS"]),
    ("bad_STREAM_STALL_SECONDS", {"STREAM_STALL_SECONDS": "ninety"}, ["STREAM_STALL_SECONDS"]),
    ("bad_DDB_QUEUE_MAX", {"DDB_QUEUE_MAX": "0"}, ["DDB_QUEUE_MAX"]),
    ("bad_DDB_MAX_IN_FLIGHT", {"DDB_MAX_IN_FLIGHT": "1000"}, ["DDB_MAX_IN_FLIGHT"]),
    ("bad_MAX_LINE_BYTES", {"MAX_LINE_BYTES": "12"}, ["MAX_LINE_BYTES"]),
    ("bad_RULE_MEMORY_MB", {"RULE_MEMORY_MB": "lots"}, ["RULE_MEMORY_MB"]),
    ("bad_LOG_LEVEL", {"LOG_LEVEL": "loud"}, ["LOG_LEVEL"]),
    ("bad_LOG_FORMAT", {"LOG_FORMAT": "xml"}, ["LOG_FORMAT"]),
    ("bad_DEADLETTER_FILE", {"DEADLETTER_FILE": "/nonexistent-e2e-dir/dead.ndjson"}, ["DEADLETTER_FILE"]),
    ("missing_MATCHER_SCRIPT", {"MATCHER_SCRIPT": "/nonexistent-e2e-dir/rule.lua"}, ["/nonexistent-e2e-dir/rule.lua"]),
    # Lua shortens a long path from the left ("..."): the name and line stay.
    ("broken_MATCHER_SCRIPT", {"MATCHER_SCRIPT": "@broken"}, ["broken.lua:4:"]),
    # Problems in different parts are all reported before giving up.
    ("three_wrong", {"DYNAMODBTABLE": None, "ACCESSTOKEN": None, "SHUTDOWN_DEADLINE_SECONDS": "x"},
     ["DYNAMODBTABLE", "ACCESSTOKEN", "SHUTDOWN_DEADLINE_SECONDS"]),
]


def config_case(name, changes, names):
    def run():
        with Ctx("config-" + name) as cx:
            ch = dict(changes)
            if ch.get("MATCHER_SCRIPT") == "@broken":
                ch["MATCHER_SCRIPT"] = write_script(cx, "broken.lua", BROKEN_SYNTAX)
            want = list(names)
            for v in ch.values():
                if v and "SECRET" in v:
                    cx.secrets.append(v)
            # Nothing listens here: a configuration error must come first.
            env = dict(STREAM_URL="http://127.0.0.1:9/1.1/statuses/filter.json",
                       AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:9", START_RETRY_SECONDS=0)
            env.update(ch)
            d = cx.daemon(None, **env)
            code = d.wait(20)
            err = d.stderr
            check(code == 2, "exit code %s, expected 2" % code, err, *d.lines[-5:])
            for n in want:
                check(n in err, "stderr does not name %s" % n, err)
            check(err.startswith("tweetmatch run: "), "stderr does not say who speaks", err)
            check_log_lines(d)
            if name not in ("bad_LOG_LEVEL", "bad_LOG_FORMAT"):  # no log before the log is set up
                errs = [e for e in d.events if e["level"] == "error"]
                check(errs, "no error line in the log", d.lines)
                text = json.dumps(errs)
                for n in want:
                    check(n in text, "the log does not name %s" % n, text)
            eq(d.of("stream_connect"), [], "a stream connection despite the configuration error")
    run.__doc__ = "configuration error %s: exit 2, named on stderr and in the log" % name
    return run


for _name, _changes, _names in CONFIG:
    CASES["config." + _name] = config_case(_name, _changes, _names)


def permanent(name, setup, env, want_in_err, code=3):
    with Ctx(name) as cx:
        srv = setup(cx)
        d = cx.daemon(srv, **env)
        got = d.wait(40)
        err = d.stderr
        check(got == code, "exit code %s, expected %d" % (got, code), err, *d.lines[-6:])
        for w in want_in_err:
            check(w in err, "stderr does not say %r" % w, err)
        check_log_lines(d)
        fatal = d.of("fatal")
        check(fatal, "no fatal line in the log", d.lines[-6:])
        for w in want_in_err:
            check(w in json.dumps(fatal), "the fatal line does not say %r" % w, fatal)
        return cx, d


@case
def missing_table():
    """No such table: exit 3 at start-up, the message names table and region."""
    def setup(cx):
        cx.moto_start()
        cx.proxy_start()
        return cx.stream({"auth": OAUTH})
    permanent("missing_table", setup, {"DYNAMODBTABLE": "no_such_table"},
              ["no_such_table", REGION, "ResourceNotFoundException"])


@case
def bad_credentials():
    """An access key AWS does not know (UnrecognizedClientException): exit 3."""
    def setup(cx):
        cx.table()
        cx.proxy_start()
        return cx.stream({"auth": OAUTH})
    cx, d = permanent("bad_credentials", setup, {"AWS_ACCESS_KEY_ID": BAD_AWS_KEY,
                                                 "AWS_SECRET_ACCESS_KEY": BAD_AWS_SECRET},
                      ["UnrecognizedClientException", TABLE])


@case
def access_denied():
    """A key without dynamodb permissions (AccessDeniedException): exit 3."""
    def setup(cx):
        cx.table()
        cx.proxy_start(Plan(deny_keys=(AWS_KEY,)))
        return cx.stream({"auth": OAUTH})
    permanent("access_denied", setup, {}, ["AccessDeniedException", TABLE])


@case
def twitter_401():
    """Twitter refuses the keys (401): exit 3, the status and Twitter's message
    in the log; no secret in it."""
    wrong = "e2eCS-WRONG-consumer-SECRET/value+0006"

    def setup(cx):
        cx.secrets.append(wrong)
        cx.table()
        cx.proxy_start()
        return cx.stream({"auth": OAUTH})
    cx, d = permanent("twitter_401", setup, {"CONSUMERSECRETKEY": wrong}, ["401"])
    failed = d.of("stream_failed")
    check(failed and failed[0]["status"] == 401 and "authenticate" in failed[0]["message"],
          "stream_failed line", failed)
    st = d.final_stats()
    eq(st["tweets"], 0, "tweets")


@case
def twitter_404():
    """A stream URL that does not exist (404) is permanent too: exit 3."""
    with Ctx("twitter_404") as cx:
        cx.table()
        cx.proxy_start()
        srv = cx.stream({"auth": OAUTH})
        d = cx.daemon(srv, STREAM_URL=srv.url("/1.1/statuses/nowhere.json"))
        got = d.wait(40)
        check(got == 3, "exit code %s, expected 3" % got, d.lines[-5:])
        failed = d.of("stream_failed")
        check(failed and failed[0]["status"] == 404, "stream_failed line", failed)


# ---- health ----

def heartbeat(cx):
    with open(os.path.join(cx.tmp, "health.json"), encoding="utf-8") as f:
        return json.load(f)


def wait_health(cx, env, want_code, timeout, what, saying=""):
    deadline = time.time() + timeout
    while True:
        code, out, err = cx.health(env)
        if code == want_code and saying in out + err:
            return out + err
        if time.time() > deadline:
            raise Fail("tweetmatch health: %s: exit %d, expected %d: %s" % (what, code, want_code, out + err))
        time.sleep(0.3)


@case
def health_streaming():
    """`tweetmatch health`: healthy while streaming, unhealthy after the
    shutdown, when the heartbeat is stale, and without a heartbeat file."""
    lines = tweet_lines(300, 1, 71)
    with Ctx("health_streaming") as cx:
        cx.table()
        cx.proxy_start()
        srv = cx.stream({"auth": OAUTH, "connections": [[{"respond": 200}, {"lines": lines}, {"hold": True}]]})
        env = cx.env(srv, HEALTH_INTERVAL_SECONDS=1)
        code, _, err = cx.health(env)
        check(code == 1 and "health.json" in err, "health before any heartbeat: exit %d" % code, err)
        d = cx.daemon(srv, HEALTH_INTERVAL_SECONDS=1, STATS_INTERVAL_SECONDS=1)
        wait_stats(d, drained(len(lines)), what="stats, drained")
        time.sleep(1.2)
        out = wait_health(cx, env, 0, 5, "while streaming")
        check(out.startswith("healthy: connected"), "health's output", out)
        hb = heartbeat(cx)
        eq((hb["state"], hb["healthy"], hb["queue_depth"], hb["pid"]), ("connected", True, 0, d.pid), "the heartbeat")
        check(0 <= hb["last_message_age_ms"] < 5000 and hb["last_write_age_ms"] >= 0, "the heartbeat's ages", hb)
        finish(cx, d)
        code, out, err = cx.health(env)
        check(code == 1 and "unhealthy" in err, "health after the shutdown: exit %d" % code, out + err)
        hb = heartbeat(cx)
        eq((hb["state"], hb["healthy"]), ("stopping", False), "the last heartbeat")
        # A heartbeat that says healthy but is stale.
        hb.update(state="connected", healthy=True, ts_ms=int(time.time() * 1000) - 60000)
        with open(os.path.join(cx.tmp, "health.json"), "w") as f:
            json.dump(hb, f)
        code, out, err = cx.health(env)
        check(code == 1 and "old" in err, "health with a stale heartbeat: exit %d" % code, out + err)


@case
def health_stream_down():
    """Unhealthy once the stream has been down longer than
    HEALTH_STREAM_DOWN_SECONDS; healthy again once it is back."""
    lines = tweet_lines(100, 1, 81)
    with Ctx("health_stream_down") as cx:
        cx.table()
        cx.proxy_start()
        conns = [[{"close_now": True}]] * 6 + [[{"respond": 200}, {"lines": lines}, {"hold": True}]]
        srv = cx.stream({"auth": OAUTH, "connections": conns})
        env = cx.env(srv, HEALTH_INTERVAL_SECONDS=1, HEALTH_STREAM_DOWN_SECONDS=1)
        d = cx.daemon(srv, HEALTH_INTERVAL_SECONDS=1, HEALTH_STREAM_DOWN_SECONDS=1, STATS_INTERVAL_SECONDS=1)
        out = wait_health(cx, env, 1, 6, "while the stream is down", saying="the stream has")
        d.wait_event("stream_connected", timeout=20)
        out = wait_health(cx, env, 0, 5, "once the stream is back")
        wait_stats(d, drained(len(lines)), what="stats, drained")
        st = finish(cx, d)
        check(st["reconnects"] >= 6, "reconnects %d" % st["reconnects"])


@case
def health_writer_stuck():
    """Unhealthy while DynamoDB has been unreachable longer than
    HEALTH_WRITER_STUCK_SECONDS; healthy and complete once it is back."""
    lines = tweet_lines(scaled(600, 200), 1, 91)
    with Ctx("health_writer_stuck") as cx:
        cx.table()
        cx.proxy_start(Plan(down_after=1, down_for_s=6))
        expected, _ = cx.expected_items(FILTER_LUA, lines)
        srv = cx.stream({"auth": OAUTH, "connections": [[{"respond": 200}, {"lines": lines}, {"hold": True}]]})
        kw = dict(HEALTH_INTERVAL_SECONDS=1, HEALTH_WRITER_STUCK_SECONDS=1, DDB_MAX_ATTEMPTS=40)
        env = cx.env(srv, **kw)
        d = cx.daemon(srv, STATS_INTERVAL_SECONDS=1, **kw)
        out = wait_health(cx, env, 1, 8, "while DynamoDB is down", saying="the writer has")
        hb = heartbeat(cx)
        check(hb["queue_depth"] > 0 and hb["state"] == "connected", "the heartbeat while stuck", hb)
        wait_stats(d, drained(len(lines)), timeout=60, what="stats, drained after the outage")
        wait_health(cx, env, 0, 5, "once DynamoDB is back")
        st = finish(cx, d)
        eq((st["items"], st["written"], st["dead_letter"]), (len(expected), len(expected), 0), "items, written")
        check_table(cx, d, expected)


@case
def health_reconnect():
    """A drop after a long connection is not an outage: health stays healthy
    until the stream has been down HEALTH_STREAM_DOWN_SECONDS, counted from
    the drop, not from when the connection was made."""
    lines = tweet_lines(50, 1, 111)
    with Ctx("health_reconnect") as cx:
        cx.table()
        cx.proxy_start()
        alive = [{"respond": 200}, {"lines": lines}]
        for _ in range(5):
            alive += [{"sleep_ms": 1000}, {"keepalive": 1}]
        srv = cx.stream({"auth": OAUTH, "connections": [alive + [{"drop": True}], [{"respond": 420}]]})
        kw = dict(HEALTH_INTERVAL_SECONDS=1, HEALTH_STREAM_DOWN_SECONDS=3)
        env = cx.env(srv, **kw)
        d = cx.daemon(srv, **kw)
        d.wait_event("stream_disconnected", timeout=20)
        time.sleep(1.6)  # a heartbeat or more since the drop
        code, out, err = cx.health(env)
        check(code == 0 and "reconnecting" in out, "health 1.6 s after a drop: exit %d" % code, out + err,
              heartbeat(cx))
        wait_health(cx, env, 1, 6, "once the stream has been down for 3 s", saying="the stream has")
        finish(cx, d)


@case
def health_writer_failing():
    """Every write refused (the table deleted under the daemon): each item a
    dead letter with DynamoDB's error, and health unhealthy, though the
    queue stays empty."""
    n = scaled(3000, 600)
    lines = tweet_lines(n, 1, 121)
    with Ctx("health_writer_failing") as cx:
        cx.table()
        cx.proxy_start()
        srv = cx.stream({"auth": OAUTH, "connections": [[{"respond": 200}] + paced(lines, n // 12, 500) +
                                                         [{"hold": True}]]})
        kw = dict(HEALTH_INTERVAL_SECONDS=1, HEALTH_WRITER_STUCK_SECONDS=2)
        env = cx.env(srv, **kw)
        d = cx.daemon(srv, STATS_INTERVAL_SECONDS=1, **kw)
        wait_stats(d, lambda e: e["written"] > 0, what="stats with rows written")
        wait_health(cx, env, 0, 5, "while writing")
        cx.client.call("DeleteTable", {"TableName": TABLE})
        d.wait_event("dead_letter", timeout=10)
        out = wait_health(cx, env, 1, 8, "while every write is refused", saying="the writer has")
        st = finish(cx, d)
        check(st["dead_letter"] > 0, "no dead letters")
        check(all("ResourceNotFoundException" in e["reason"] for e in d.of("dead_letter")),
              "a dead letter for another reason", {e["reason"] for e in d.of("dead_letter")})


@case
def sigterm_startup():
    """SIGTERM while start-up waits for DynamoDB (unreachable): a clean stop,
    exit 0, at once."""
    with Ctx("sigterm_startup") as cx:
        cx.table()
        cx.proxy_start(Plan(down_after=0))
        srv = cx.stream({"auth": OAUTH})
        d = cx.daemon(srv)
        d.wait_event("start_retry", timeout=20)
        code, took = d.stop()
        check(code == 0 and took < 3, "exit %s after %.1f s" % (code, took), d.stderr, d.lines[-4:])
        eq(stream_requests(srv), [], "stream connections before the table was found")
        check_log_lines(d)
        st = d.final_stats()
        check_stats_line(st)
        eq((st["tweets"], st["items"]), (0, 0), "the stats line's counts")


@case
def url_secrets():
    """A STREAM_URL with credentials in it (user info, a query token), read
    as a plain NDJSON stream: the tweets are written, the URL's secrets are
    in no log line."""
    with open(V11_SAMPLE, encoding="utf-8") as f:
        lines = [l.rstrip("\n") for l in f if l.strip()]
    password, token = "E2eUrlPassword-SECRET-0007", "E2eUrlQueryToken-SECRET-0008"
    with Ctx("url_secrets") as cx:
        cx.secrets += [password, token]
        cx.table()
        cx.proxy_start()
        expected, _ = cx.expected_items(FILTER_LUA, lines)
        srv = cx.stream({"stream_path": "/firehose", "connections": [
            [{"respond": 200}, {"lines": lines}, {"hold": True}]]})
        url = "http://reader:%s@127.0.0.1:%d/firehose?access_token=%s" % (password, srv.port, token)
        env = {k: None for k in TWITTER}
        d = cx.daemon(None, STREAM_URL=url, STATS_INTERVAL_SECONDS=1, **env)
        eq(d.wait_event("start")["stream_mode"], "ndjson", "stream mode")
        wait_stats(d, lambda e: e["tweets"] == len(lines) and drained(0)(e), what="stats, drained")
        finish(cx, d)
        check_table(cx, d, expected)
        r = stream_requests(srv)[0]
        eq((r["method"], r["query"]), ("GET", "access_token=" + token), "the NDJSON request")


SECRET_RULE = """local tm = require "tweetmatch"
return {
  track = { "cloud computing" },
  match = function(t)
    local id = tonumber(tm.id(t))
    -- the rule sees no secret: getenv hides them
    for _, k in ipairs({ "CONSUMERSECRETKEY", "ACCESSTOKENSECRET", "AWS_SECRET_ACCESS_KEY",
                         "AWS_SESSION_TOKEN", "BEARERTOKEN" }) do
      if os.getenv(k) ~= nil then error("the rule can read " .. k) end
    end
    if id % 17 == 3 then error("boom on " .. tm.id(t)) end
    if not tm.track_match(t, { "cloud computing" }) then return nil end
    local item = { id = tm.id(t), user = tm.user(t), text = tm.text(t) }
    if id % 29 == 5 then item.poison = true end  -- the fault proxy refuses it: a dead letter
    return item
  end,
}
"""


@case
def secrets_full_run():
    """Every byte tweetmatch writes, with every secret set and debug logging,
    across a run that meets the failures it logs (stream 503 and 500, drops,
    a stall, DynamoDB throttling, 500s, resets, partial batches, dead letters,
    rule errors, a refused reload), then Twitter refusing the keys, AWS
    refusing the key, the v2 stream, a configuration error, and the health,
    check and test commands: no secret occurs in any of it, in any form."""
    n = scaled(600, 200)
    lines = tweet_lines(n, 1, 61)
    token = "E2eSessionToken//SECRET+FwoGZXIvYXdzEJr0000000003"
    bearer = "E2eBearerAll-AAAAAAAAAAAAAAAAAAAAAMLheAAAAAAA0%2Bu-SECRET-0009"
    wrong = "e2eATS-WRONG-token-SECRET/value+0010"
    with Ctx("secrets_full_run") as cx:
        cx.secrets += [token, bearer, wrong]
        cx.table()
        cx.proxy = Proxy(cx.moto.port, {AWS_KEY: (AWS_SECRET, token)}, region=REGION,
                         plan=Plan(throttle=0.1, e500=0.05, reset=0.05, partial=0.05, seed=9)).start()
        rule = write_script(cx, "rule.lua", SECRET_RULE)
        expected, counts = cx.expected_items(rule, lines, {"AWS_SESSION_TOKEN": token, "BEARERTOKEN": None})
        check(counts["errors"] > 0, "the corpus makes no rule error")
        big = {i for i, it in expected.items() if it.get("poison")}
        check(big, "the corpus makes no poisoned item")
        third = n // 3
        split = {"split": "random", "max_chunk": 4096}
        srv = cx.stream({"auth": OAUTH, "connections": [
            [{"respond": 503, "text": "Service Unavailable"}],
            [{"respond": 200}, dict({"lines": lines[:third], "seed": 1}, **split), {"drop": True}],
            [{"respond": 500, "json": {"errors": [{"code": 131, "message": "Internal error"}]}}],
            [{"respond": 200}, dict({"lines": lines[third:2 * third], "seed": 2}, **split),
             {"raw": '{"id_str":"77","text":"cut off'}, {"sleep_ms": 4000}],
            [{"respond": 200}, {"lines": ['{"delete":{"status":{"id":1,"id_str":"1","user_id":3}}}',
                                          "not json at all", '{"id_str": 5']},
             dict({"lines": lines[2 * third:], "seed": 3}, **split), {"hold": True}]]})
        env = dict(MATCHER_SCRIPT=rule, LOG_LEVEL="debug", AWS_SESSION_TOKEN=token, STREAM_STALL_SECONDS=2,
                   STATS_INTERVAL_SECONDS=1, HEALTH_INTERVAL_SECONDS=1, RELOAD_CHECK_SECONDS=1)
        d = cx.daemon(srv, **env)
        wait_stats(d, lambda e: e["tweets"] > 0, timeout=90, what="stats with some tweets")
        code, out, _ = cx.health(cx.env(srv, **env))
        write_script(cx, "rule.lua", "return { match = function( }\n")
        d.wait_event("reload_failed", timeout=15)
        write_script(cx, "rule.lua", SECRET_RULE)
        wait_stats(d, drained(n), timeout=200, what="stats with every tweet processed and the queue empty")
        st = finish(cx, d)
        eq((st["tweets"], st["rule_errors"]), (n, counts["errors"]), "tweets, rule errors")
        eq(st["dead_letter"], len(big), "dead letters: the poisoned items")
        check(st["bad_input"] >= 2, "bad input lines: %d" % st["bad_input"])
        check_table(cx, d, expected, may_be_dead=big)
        debug = [e for e in d.events if e.get("level") == "debug"]
        check(len(debug) >= 5, "only %d debug lines: LOG_LEVEL=debug had no effect" % len(debug))
        seen = {e.get("event") for e in d.events}
        for want in ("stream_backoff", "stream_disconnected", "reload_failed", "rule_error", "dead_letter",
                     "ddb_retry", "stats"):
            check(want in seen, "the run logged no %s line, so its secrets were not searched" % want, sorted(seen))
        # Twitter refuses the token secret: exit 3.
        srv401 = cx.stream({"auth": OAUTH})
        d2 = cx.daemon(srv401, name="twitter_401", LOG_LEVEL="debug", AWS_SESSION_TOKEN=token,
                       ACCESSTOKENSECRET=wrong)
        eq(d2.wait(40), 3, "exit code when Twitter refuses the keys")
        # AWS refuses the key: exit 3.
        d3 = cx.daemon(cx.stream({"auth": OAUTH}), name="aws_refused", LOG_LEVEL="debug",
                       AWS_SESSION_TOKEN="E2eSessionToken//SECRET+unknown0000000004",
                       AWS_ACCESS_KEY_ID=BAD_AWS_KEY, AWS_SECRET_ACCESS_KEY=BAD_AWS_SECRET)
        cx.secrets.append("E2eSessionToken//SECRET+unknown0000000004")
        eq(d3.wait(40), 3, "exit code when AWS refuses the key")
        # The v2 stream with a bearer token, everything else set too except the v1.1 keys.
        with open(V2_SAMPLE, encoding="utf-8") as f:
            v2 = [l.rstrip("\n") for l in f if l.strip()]
        srv2 = cx.stream({"stream_path": "/2/tweets/search/stream", "auth": {"mode": "bearer", "bearer_token": bearer},
                          "connections": [[{"respond": 503, "text": "busy"}],
                                          [{"respond": 200}, {"lines": v2}, {"hold": True}]]})
        d4 = cx.daemon(srv2, name="v2", LOG_LEVEL="debug", AWS_SESSION_TOKEN=token, BEARERTOKEN=bearer,
                       STATS_INTERVAL_SECONDS=1, **{k: None for k in TWITTER})
        wait_stats(d4, lambda e: e["tweets"] + e["control"] >= len(v2) and drained(0)(e), what="v2 stats, drained")
        finish(cx, d4, dl_file=False)
        # A configuration error with every secret set: exit 2, stderr names the variable.
        d5 = cx.daemon(srv, name="config", LOG_LEVEL="debug", AWS_SESSION_TOKEN=token, BEARERTOKEN=bearer,
                       SHUTDOWN_DEADLINE_SECONDS="soon")
        eq(d5.wait(20), 2, "exit code of a configuration error")
        check("SHUTDOWN_DEADLINE_SECONDS" in d5.stderr, "the configuration error names the variable", d5.stderr)
        # The other commands, with the same environment.
        full = cx.env(srv, **dict(env, BEARERTOKEN=bearer))
        for args in (["check", rule], ["test", rule, V11_SAMPLE], ["test", "--plain", rule, "-"], ["health"],
                     ["version"], ["--help"], ["run", "--bogus"]):
            cx.run_cmd(args, env=full, what=" ".join(args))
        total = sum(len(text) for _, text in cx.outputs())
        check(total > 20000, "only %d bytes of output searched" % total)
        print("searched %d bytes of output from %d processes for %d secrets in 4 forms each" % (
            total, len(cx.daemons) + len(cx.extra_outputs), len(cx.secrets)))


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@case
def idle_cpu():
    """Connected to a quiet stream (a keep-alive now and then), the daemon
    sleeps: under 1 % of a CPU over 4 s."""
    with Ctx("idle_cpu") as cx:
        cx.table()
        cx.proxy_start()
        steps = [{"respond": 200}, {"lines": tweet_lines(20, 1, 131)}]
        for _ in range(20):
            steps += [{"sleep_ms": 500}, {"keepalive": 1}]
        srv = cx.stream({"auth": OAUTH, "connections": [steps + [{"hold": True}]]})
        d = cx.daemon(srv, STATS_INTERVAL_SECONDS=1, HEALTH_INTERVAL_SECONDS=1, RELOAD_CHECK_SECONDS=1)
        wait_stats(d, drained(20), what="stats, drained")
        time.sleep(0.5)
        c0, t0 = cpu_seconds(d.pid), time.time()
        time.sleep(4)
        used = cpu_seconds(d.pid) - c0
        share = used / (time.time() - t0)
        finish(cx, d)
        limit = 0.05 if SANITIZED else 0.01
        check(share < limit, "idle CPU %.1f %% of a core, over %.0f %%" % (100 * share, 100 * limit))
        print("idle CPU: %.2f %% of a core" % (100 * share))


@case
def sigterm_backoff():
    """A 420 means a minute's wait; the daemon stays healthy meanwhile, and
    SIGTERM during the wait stops it at once with exit 0."""
    with Ctx("sigterm_backoff") as cx:
        cx.table()
        cx.proxy_start()
        srv = cx.stream({"auth": OAUTH, "connections": [
            [{"respond": 420, "json": {"errors": [{"code": 420, "message": "Enhance Your Calm"}]}}]]})
        env = cx.env(srv, HEALTH_INTERVAL_SECONDS=1)
        d = cx.daemon(srv, HEALTH_INTERVAL_SECONDS=1)
        w = d.wait_for(lambda e: e.get("event") == "stream_backoff" and e.get("reason") == "rate_limit", 10,
                       "the rate-limit backoff")
        eq(w["wait_ms"], 60000, "the first wait after a 420")
        check(60000 <= w["delay_ms"] <= 66000, "the jittered wait", w)
        time.sleep(1.5)
        out = wait_health(cx, env, 0, 5, "during the backoff")
        check("reconnecting" in out, "health's state", out)
        st = finish(cx, d, deadline_s=3)
        eq((st["tweets"], st["reconnects"]), (0, 1), "tweets, reconnects")


@case
def stats_emf():
    """The stats line every STATS_INTERVAL_SECONDS: CloudWatch EMF with the
    given namespace, each metric a top-level number; the interval metrics
    add up to the totals."""
    n = scaled(1500, 300)
    lines = tweet_lines(n, 1, 101)
    with Ctx("stats_emf") as cx:
        cx.table()
        cx.proxy_start()
        srv = cx.stream({"auth": OAUTH, "connections": [[{"respond": 200}] + paced(lines, n // 6, 500) +
                                                         [{"hold": True}]]})
        d = cx.daemon(srv, STATS_INTERVAL_SECONDS=1, METRICS_NAMESPACE="TweetmatchE2E")
        wait_stats(d, drained(n), what="stats, drained")
        st = finish(cx, d, namespace="TweetmatchE2E")
        lines_ = d.of("stats")
        check(len(lines_) >= 4, "%d stats lines in %d s" % (len(lines_), int(d.events[-1]["_t"])))
        for metric, total in (("Tweets", "tweets"), ("Matched", "matched"), ("Items", "items"),
                              ("Written", "written"), ("DeadLetters", "dead_letter"), ("RuleErrors", "rule_errors"),
                              ("Reconnects", "reconnects")):
            eq(sum(e[metric] for e in lines_), st[total], "the sum of the %s metric over the lines" % metric)
        check(sum(1 for e in lines_ if e["Tweets"] > 0) >= 2, "the interval metrics are not per interval",
              [e["Tweets"] for e in lines_])
        for e in lines_:
            eq(e["QueueDepth"], e["queue_depth"], "QueueDepth")
            eq(e["level"], "info", "the stats line's level")


@case
def soak():
    """200,000 tweets at full speed (the sanitizer build: fewer, no RSS
    check), RSS sampled from /proc: RSS after the last tweet within 10 % of
    RSS after 20,000; every count exact."""
    n = 200000 if not SANITIZED else scaled(200000, 20000)
    if SCALE < 1 and not SANITIZED:
        n = scaled(200000, 40000)
    step = 10000
    mark = 20000
    rule = """local tm = require "tweetmatch"
local n = 0
return {
  match = function(t)
    n = n + 1
    if n %% %d == 0 then print("progress " .. n) end
    local id = tm.id(t)
    if tonumber(id) %% 100 ~= 0 then return nil end
    return { id = id, user = tm.user(t), text = tm.text(t), n = n }
  end,
}
""" % mark
    with Ctx("soak") as cx:
        cx.table()
        cx.proxy_start()
        path = write_script(cx, "soak.lua", rule)
        steps = [{"respond": 200}]
        for k in range(0, n, step):
            steps.append({"tweets": {"count": min(step, n - k), "first_id": k + 1, "seed": 1000 + k},
                          "split": "random", "max_chunk": 65536, "seed": k})
        steps.append({"hold": True})
        srv = cx.stream({"auth": OAUTH, "connections": [steps]})
        d = cx.daemon(srv, MATCHER_SCRIPT=path, STATS_INTERVAL_SECONDS=1)
        t0 = time.time()
        rss = d.sample_rss()
        marks = {}
        for k in range(mark, n + 1, mark):
            d.wait_for(lambda e: e.get("event") == "script_print" and e.get("message") == "progress %d" % k, 120,
                       "progress %d" % k)
            marks[k] = d.rss_kb()
        t_last = time.time() - t0
        wait_stats(d, drained(n), timeout=60, what="stats, drained")
        rss_end = d.rss_kb()
        rss.stop()
        st = finish(cx, d)
        eq((st["tweets"], st["items"], st["written"], st["dead_letter"], st["reconnects"]),
           (n, n // 100, n // 100, 0, 0), "tweets, items, written, dead letters, reconnects")
        eq(len(cx.scan()), n // 100, "rows")
        peak = rss.peak
        print("%d tweets in %.1f s (%.0f/s); RSS KiB at %s; after the queue drained %d; peak %d" % (
            n, t_last, n / t_last, ", ".join("%dk: %d" % (k // 1000, v) for k, v in sorted(marks.items())),
            rss_end, peak))
        if SANITIZED:
            print("sanitizer build: RSS not checked")
            return
        base, last = marks[mark], marks[max(marks)]
        check(abs(last - base) <= 0.10 * base, "RSS after the last tweet (%d KiB) not within 10 %% of RSS after "
              "%d (%d KiB)" % (last, mark, base))
        check(abs(rss_end - base) <= 0.10 * base, "RSS after draining (%d KiB) not within 10 %% of RSS after %d "
              "(%d KiB)" % (rss_end, mark, base))

# ---- hostile inputs: what the stream and the lines may throw at the daemon ----
# The corpora of tests/data/hostile_input/ (written with their expectations
# by its gen.py) go through `tweetmatch test` first, whose output must be
# exactly the expected one, then, byte for byte, through the stream to
# `tweetmatch run`, whose table must hold exactly the same items and whose
# log must name each line it could not take.

HOSTILE_DIR = os.path.join(ROOT, "tests", "data", "hostile_input")
HOSTILE_RULE = os.path.join(HOSTILE_DIR, "echo.lua")


def hostile_corpus(name):
    """The corpus NAME: its lines (bytes), the expected items {id: AV item},
    the bad-input messages and the rule errors [(tweet id, message)] in
    order, and the summary counts of `tweetmatch test`."""
    with open(os.path.join(HOSTILE_DIR, name + ".ndjson"), "rb") as f:
        lines = f.read().split(b"\n")[:-1]
    with open(os.path.join(HOSTILE_DIR, name + ".av.ndjson"), encoding="utf-8") as f:
        items = [json.loads(l) for l in f]
    with open(os.path.join(HOSTILE_DIR, name + ".stderr"), "rb") as f:
        err = f.read().decode("utf-8", "replace").splitlines()
    bad, rule = [], []
    for l in err[:-1]:
        rest = l.split(": ", 1)[1]
        if rest.startswith("bad input: "):
            bad.append(rest[len("bad input: "):])
        else:
            check(rest.startswith("rule error (tweet "), "an expectation line", l)
            tid, msg = rest[len("rule error (tweet "):].split("): ", 1)
            rule.append((tid, msg))
    counts = dict((k.strip(), int(v)) for k, v in (p.split(":") for p in err[-1].split(",")))
    return lines, {i["id"]["S"]: i for i in items}, bad, rule, counts, err


def hostile_run(name, extra_checks=None):
    """The corpus through `tweetmatch test` (AV and --plain), then through
    the stream to `tweetmatch run` (chunks of random size, so hostile bytes
    cross chunk boundaries), then checks."""
    lines, items, bad, rule, counts, err_lines = hostile_corpus(name)
    path = os.path.join(HOSTILE_DIR, name + ".ndjson")
    with Ctx("hostile_" + name) as cx:
        cx.table()
        cx.proxy_start()
        code, out, err = cx.run_cmd(["test", HOSTILE_RULE, path], env=cx.env(), what="test " + name)
        eq(code, 1, "tweetmatch test: exit code (errors reported)")
        eq([json.loads(l) for l in out.splitlines()], list(items.values()), "tweetmatch test: the items")
        eq(err.splitlines(), [l.replace("{input}", path) for l in err_lines], "tweetmatch test: stderr")
        code, out, err = cx.run_cmd(["test", "--plain", HOSTILE_RULE, path], env=cx.env(), what="test --plain")
        eq([json.loads(l) for l in out.splitlines()], [item_to_plain(i) for i in items.values()],
           "tweetmatch test --plain: the items")
        data = b"".join(l + b"\r\n" for l in lines)
        srv = cx.stream({"auth": OAUTH, "connections": [
            [{"respond": 200}, {"raw_bytes_hex": data.hex(), "split": "random", "max_chunk": 3000, "seed": 5},
             {"hold": True}]]})
        d = cx.daemon(srv, MATCHER_SCRIPT=HOSTILE_RULE, STATS_INTERVAL_SECONDS=1)
        wait_stats(d, lambda e: e["tweets"] + e["bad_input"] + e["control"] >= len(lines) and drained(0)(e),
                   what="stats with every line taken")
        st = finish(cx, d)
        rule_errors = len(rule)
        eq((st["tweets"], st["matched"], st["items"], st["written"], st["dead_letter"], st["rule_errors"],
            st["bad_input"], st["control"], st["reconnects"]),
           (counts["tweets"], counts["matched"], counts["items"], counts["items"], 0, rule_errors, len(bad),
            counts["control"], 0),
           "tweets, matched, items, written, dead letters, rule errors, bad input, control, reconnects")
        eq([e["error"] for e in d.of("bad_input")], bad, "the bad_input lines' errors, in order")
        for e in d.of("bad_input"):
            eq(e["level"], "warn", "a bad_input line's level")
        eq([(e["tweet_id"], e["error"]) for e in d.of("rule_error")], rule, "the rule_error lines, in order")
        check_table(cx, d, {i: item_to_plain(it) for i, it in items.items()}, may_be_dead=set())
        raw = d.stdout_bytes()
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise Fail("the log is not valid UTF-8: %s" % e)
        eq(d.stderr, "", "the daemon's stderr")
        if extra_checks:
            extra_checks(cx, d, st)
        print("%s: %d lines: %d items written, %d bad input, %d rule errors" % (
            name, len(lines), st["written"], st["bad_input"], st["rule_errors"]))


@case
def hostile_deep_nesting():
    """JSON nested 10,000 deep (arrays, objects, both, unclosed, in a tweet
    and under control keys the stream parses itself): bad input, each named
    ("too many nested data structures" at its character); 1000 deep decodes
    but is a rule error past DynamoDB's 32 levels; 32 deep is written; the
    tweet after is written."""
    def more(cx, d, st):
        bl = d.of("stream_bad_line")
        eq(len(bl), 2, "stream_bad_line lines (the two that are not objects)")
        check(all(e["start"] == "[" * 80 and e["bytes"] >= 10000 for e in bl), "stream_bad_line", bl)
        em = d.of("stream_error_message")
        check(len(em) == 1 and em[0]["detail"].startswith('{"errors":[[[['), "the deep errors message, logged by "
              "the stream though its parser refuses it", em)
        lim = d.of("stream_limit")
        check(len(lim) == 1 and lim[0]["undelivered"] == -1, "the deep limit message", lim)
    hostile_run("deep", more)


@case
def hostile_numbers():
    """1e400, -1e400, 1 and 400 zeros: infinities, a rule error each, never
    written as "inf"; 1e-400: 0; 100-digit integers: floats in shortest
    form; 2^53+1 rounds; out of DynamoDB's range: a rule error; number forms
    JSON does not have (01, .5, +1, 0x10, Infinity, NaN, 1e): bad input; a
    limit notice with 1e400: control."""
    def more(cx, d, st):
        table = cx.scan()
        text = json.dumps(table)
        check("inf" not in text.lower() and "nan" not in text.lower(), "an infinity in the table", text[:500])
        lim = d.of("stream_limit")
        check(len(lim) == 1, "the limit notice logged", lim)
    hostile_run("numbers", more)


@case
def hostile_utf8():
    """Lone and reversed surrogate escapes, a truncated escape: bad input; a
    surrogate pair: one character; raw overlong forms, 0xFF, 0xFE, encoded
    surrogates, cut sequences, 5-byte forms, code points past U+10FFFF in a
    value or a name: a rule error naming the attribute and the byte; in a
    field the rule ignores: harmless; the log stays valid UTF-8."""
    def more(cx, d, st):
        e = [x for x in d.of("rule_error") if x["tweet_id"].startswith("32")]
        eq([x["tweet_id"] for x in e], ["32\ufffd0"], "a tweet id that is not UTF-8, logged with U+FFFD")
    hostile_run("utf8", more)


@case
def hostile_nul():
    """\\u0000 in a value, a name and a key: kept, written to DynamoDB and
    read back exactly; a raw NUL byte (in a string, between tokens, first,
    alone): bad input; the tweet after is written."""
    def more(cx, d, st):
        table = cx.scan_plain()
        eq(table["401"]["text"], "a\x00b", "the NUL in a value, read back from DynamoDB")
        eq(table["402"]["te\x00xt"], "name with NUL", "the NUL in a name, read back from DynamoDB")
        check("40\x003" in table, "the NUL in a key, read back from DynamoDB", sorted(table))
    hostile_run("nul", more)


@case
def hostile_line_100mb():
    """A 100 MB line on the stream: dropped (over MAX_LINE_BYTES), logged
    with its size, counted as bad input; reading resyncs at its newline on
    the same connection, the tweets after it are written; the daemon's peak
    RSS stays far below the line's size (under 40 MB; 60 MB with ASan)."""
    size = 100 << 20
    before, after = tweet_lines(50, 1, 171), tweet_lines(50, 51, 172)
    with Ctx("hostile_line_100mb") as cx:
        cx.table()
        cx.proxy_start()
        expected, _ = cx.expected_items(FILTER_LUA, before + after)
        check(expected, "no matching tweet in the corpus")
        srv = cx.stream({"auth": OAUTH, "connections": [
            [{"respond": 200}, {"lines": before, "split": "random", "max_chunk": 4096},
             {"huge_line": size, "piece": 1 << 20, "id_str": "100mb"},
             {"lines": after, "split": "random", "max_chunk": 4096}, {"hold": True}]]})
        d = cx.daemon(srv, STATS_INTERVAL_SECONDS=1)
        wait_stats(d, drained(100), timeout=120, what="stats with the tweets after the line")
        hwm = d.status_kb("VmHWM")
        st = finish(cx, d)
        eq((st["tweets"], st["items"], st["written"], st["bad_input"], st["reconnects"], st["rule_errors"]),
           (100, len(expected), len(expected), 1, 0, 0), "tweets, items, written, bad input, reconnects, rule errors")
        dropped = d.of("stream_line_dropped")
        check(len(dropped) == 1 and size <= dropped[0]["bytes"] <= size + 1 and dropped[0]["max_bytes"] == 1 << 20
              and dropped[0]["level"] == "warn", "one stream_line_dropped line with the size and the cap", dropped)
        table, _ = check_table(cx, d, expected)
        check("100mb" not in table, "the 100 MB line was written")
        check(hwm is not None, "no VmHWM")
        limit = 60 * 1024 if SANITIZED else 40 * 1024
        check(hwm < limit, "peak RSS %d KiB, over %d KiB, after a 100 MB line" % (hwm, limit))
        print("100 MB line dropped; peak RSS %d KiB" % hwm)


def keepalive_steps(seconds):
    steps = []
    for _ in range(int(seconds * 4)):
        steps += [{"keepalive": 1}, {"sleep_ms": 250}]
    return steps


def stream_ends(d):
    return [(e["reason"], e["message"]) for e in d.of("stream_disconnected") + d.of("stream_connect_failed")]


def stream_waits(d):
    return [(e["reason"], e["wait_ms"]) for e in d.of("stream_backoff")]


@case
def stall_after_headers():
    """A server that sends the response headers and then nothing, twice: a
    stall each (STREAM_STALL_SECONDS), logged, reconnected with backoff;
    then the tweets of the third connection are written."""
    lines = tweet_lines(40, 1, 181)
    with Ctx("stall_after_headers") as cx:
        cx.table()
        cx.proxy_start()
        expected, _ = cx.expected_items(FILTER_LUA, lines)
        srv = cx.stream({"auth": OAUTH, "connections": [
            [{"respond": 200}, {"hold": True}], [{"respond": 200}, {"hold": True}],
            [{"respond": 200}, {"lines": lines}] + keepalive_steps(20) + [{"hold": True}]]})
        d = cx.daemon(srv, STREAM_STALL_SECONDS=1, STATS_INTERVAL_SECONDS=1)
        wait_stats(d, drained(len(lines)), what="stats, drained")
        st = finish(cx, d)
        disc = d.of("stream_disconnected")
        eq([(e["reason"], e["bytes"], e["level"]) for e in disc], [("stall", 0, "warn")] * 2,
           "two stalls after the headers, no byte of body")
        for e in disc:
            check("stall allowance 1000 ms" in e["message"], "the stall's message", e)
        eq(stream_waits(d), [("stall", 0), ("stall", 250)], "the waits: at once, then 250 ms")
        eq((st["tweets"], st["reconnects"], st["bad_input"]), (len(lines), 2, 0), "tweets, reconnects, bad input")
        eq(len(d.of("stream_connected")), 3, "connections made")
        check_table(cx, d, expected)


@case
def headers_then_close():
    """A server that sends the response headers and then closes, twice: a
    disconnect logged with curl's reason, reconnected with backoff."""
    lines = tweet_lines(40, 1, 191)
    with Ctx("headers_then_close") as cx:
        cx.table()
        cx.proxy_start()
        expected, _ = cx.expected_items(FILTER_LUA, lines)
        srv = cx.stream({"auth": OAUTH, "connections": [
            [{"respond": 200}, {"close_now": True}], [{"respond": 200}, {"close_now": True}],
            [{"respond": 200}, {"lines": lines}, {"hold": True}]]})
        d = cx.daemon(srv, STATS_INTERVAL_SECONDS=1)
        wait_stats(d, drained(len(lines)), what="stats, drained")
        st = finish(cx, d)
        eq(stream_ends(d), [("network", "transfer closed with outstanding read data remaining")] * 2,
           "the two ends and their reasons")
        eq(stream_waits(d), [("network", 0), ("network", 250)], "the waits")
        eq((st["tweets"], st["reconnects"]), (len(lines), 2), "tweets, reconnects")
        check_table(cx, d, expected)


CUT_TWEET = ('{"created_at":"Wed Oct 10 20:19:24 +0000 2018","id":888888888,"id_str":"888888888",'
             '"text":"cloud computing, in a chunk that breaks","user":{"screen_name":"cut"}}')
CHUNK_ERRORS = {
    # kind: (the steps that break the encoding, curl's reason)
    "size": ([{"raw": CUT_TWEET[:60]}, {"bad_chunk": "size", "size_line": "zz", "data": CUT_TWEET[60:] + "\r\n"}],
             "Illegal or missing hexadecimal sequence in chunked-encoding"),
    "overrun": ([{"bad_chunk": "overrun", "declared": 60, "data": CUT_TWEET + "\r\n"}],
                "Malformed encoding found in chunked-encoding"),
    "truncated": ([{"bad_chunk": "truncated", "declared": 4096, "data": CUT_TWEET[:100]}],
                  "transfer closed with outstanding read data remaining"),
}


def chunk_error(kind):
    """A chunked-encoding error in the middle of a tweet: curl's error, a
    disconnect logged with it, a reconnect at once; the cut tweet is never
    written (for "overrun" it is on the wire in full, but its bytes past
    the declared size must not count); the tweets before and after are."""
    steps, reason = CHUNK_ERRORS[kind]
    a, b = tweet_lines(60, 1, 200), tweet_lines(60, 61, 201)
    with Ctx("chunk_" + kind) as cx:
        cx.table()
        cx.proxy_start()
        expected, _ = cx.expected_items(FILTER_LUA, a + b)
        cut, _ = cx.expected_items(FILTER_LUA, [CUT_TWEET])
        check("888888888" in cut, "the cut tweet would match")
        srv = cx.stream({"auth": OAUTH, "connections": [
            [{"respond": 200}, {"lines": a, "split": "random", "max_chunk": 2048}] + steps + [{"hold": True}],
            [{"respond": 200}, {"lines": b}, {"hold": True}]]})
        d = cx.daemon(srv, STATS_INTERVAL_SECONDS=1)
        wait_stats(d, drained(len(a) + len(b)), what="stats, drained")
        st = finish(cx, d)
        eq(stream_ends(d), [("network", reason)], "the disconnect and its reason")
        eq(d.of("stream_disconnected")[0]["level"], "warn", "the disconnect's level")
        eq(stream_waits(d), [("network", 0)], "reconnected at once")
        eq((st["tweets"], st["reconnects"], st["bad_input"], st["rule_errors"]), (len(a) + len(b), 1, 0, 0),
           "tweets, reconnects, bad input, rule errors")
        table, _ = check_table(cx, d, expected)
        check("888888888" not in table, "the tweet cut by the chunk error was written")


for _kind in CHUNK_ERRORS:
    CASES["chunk_" + _kind] = (lambda k: lambda: chunk_error(k))(_kind)
    CASES["chunk_" + _kind].__doc__ = chunk_error.__doc__


def tls_refused(name, cert_names, trust, message):
    """An https stream whose certificate the daemon must refuse: each
    attempt fails with a message naming the certificate problem, retried
    with backoff, no request (no OAuth header) sent; SIGTERM: exit 0."""
    with Ctx(name) as cx:
        cx.table()
        cx.proxy_start()
        cert, key = cx.cert(cert_names)
        srv = cx.stream({"auth": OAUTH, "tls": [cert, key], "connections": [
            [{"respond": 200}, {"lines": tweet_lines(10, 1, 210)}, {"hold": True}]]})
        check(srv.url().startswith("https://127.0.0.1:"), "the stream URL", srv.url())
        d = cx.daemon(srv, **({"AWS_CA_BUNDLE": cert} if trust else {}))
        seen = []
        d.wait_for(lambda e: e.get("event") == "stream_connect_failed" and (seen.append(e) or len(seen) >= 3),
                   20, "three failed attempts")
        st = finish(cx, d)
        fails = d.of("stream_connect_failed")
        check(len(fails) >= 3, "failed attempts", fails)
        for e in fails:
            eq((e["reason"], e["status"], e["message"], e["level"]), ("network", 0, message, "warn"),
               "a failed attempt's line")
        eq(stream_waits(d)[:3], [("network", 0), ("network", 250), ("network", 500)], "the first waits")
        eq(d.of("stream_connected"), [], "a connection despite the certificate")
        eq(stream_requests(srv), [], "a request reached the server over an unverified connection")
        if not trust:  # a name mismatch is found after the handshake
            check(srv.tls_errors, "the server saw no refused handshake")
        eq((st["tweets"], st["items"]), (0, 0), "tweets, items")
        check(st["reconnects"] >= 3, "reconnects %d" % st["reconnects"])
        eq(cx.scan(), [], "the table")


@case
def tls_self_signed():
    """A self-signed certificate nobody trusts."""
    tls_refused("tls_self_signed", ("127.0.0.1", "localhost"), False,
                "SSL certificate problem: self-signed certificate")


@case
def tls_hostname_mismatch():
    """A trusted certificate (AWS_CA_BUNDLE) for another host name."""
    tls_refused("tls_hostname_mismatch", ("stream.example.invalid",), True,
                "SSL: no alternative certificate subject name matches target host name '127.0.0.1'")


@case
def tls_ca_bundle():
    """The same self-signed certificate, trusted through AWS_CA_BUNDLE: the
    stream connects, the server verifies the OAuth signature over the https
    URL, the tweets are written."""
    lines = tweet_lines(100, 1, 220)
    with Ctx("tls_ca_bundle") as cx:
        cx.table()
        cx.proxy_start()
        expected, _ = cx.expected_items(FILTER_LUA, lines)
        cert, key = cx.cert()
        srv = cx.stream({"auth": OAUTH, "tls": [cert, key], "connections": [
            [{"respond": 200}, {"lines": lines, "split": "random", "max_chunk": 4096}, {"hold": True}]]})
        d = cx.daemon(srv, AWS_CA_BUNDLE=cert, STATS_INTERVAL_SECONDS=1)
        wait_stats(d, drained(len(lines)), what="stats, drained")
        st = finish(cx, d)
        eq((st["tweets"], st["reconnects"]), (len(lines), 0), "tweets, reconnects")
        eq(srv.tls_errors, [], "refused handshakes")
        reqs = stream_requests(srv)
        check(len(reqs) == 1 and reqs[0]["auth_ok"], "the OAuth signature over the https URL", reqs)
        check(d.of("stream_connected")[0]["url"].startswith("https://"), "the logged URL")
        check_table(cx, d, expected)


# Every misbehaviour of tests/data/scripts/hostile.lua that is a rule error:
# errors of every type, loops (plain, under pcall, in coroutines), recursion,
# memory bombs, string.rep in a loop, bytecode, pathological patterns, huge
# and shared cjson.encode, cjson settings, __gc and __index traps, __tostring
# that loops, cycles, bad values, 10,000 items.
HOSTILE_RULE_KINDS = (
    "error", "error_table", "error_tostring", "loop", "pcall_loop", "coroutine_loop", "recursion", "memory",
    "memory_rep", "memory_kept", "function", "mixed", "utf8", "big", "deep", "nan", "empty_set", "many",
    "bytecode_assert", "rep_loop", "coroutine_forever", "pattern_find", "pattern_method", "pattern_pcall",
    "pattern_gsub", "cjson_big", "cjson_shared", "cjson_depth", "cjson_keep_buffer", "cjson_decode_big", "gc_loop",
    "gc_error", "gc_alloc", "index_trap", "error_nil", "error_function", "error_light_userdata", "error_userdata",
    "error_tostring_loop", "error_huge", "cycle", "cycle_list")

HOSTILE_RULES = """local tm = require "tweetmatch"
local hostile = require "hostile"
local kinds = { %s }
return {
  match = function(t)
    local id = tonumber(tm.id(t))
    if id %% 4 == 2 then return hostile.bad[kinds[id // 4 %% #kinds + 1]](t) end
    return { id = tm.id(t), text = tm.text(t) }
  end,
}
""" % ", ".join('"%s"' % k for k in HOSTILE_RULE_KINDS)


@case
def hostile_rules():
    """The real daemon under a rule that misbehaves in every way it can on
    every fourth tweet (HOSTILE_RULE_KINDS, twice round; once in the
    sanitizer build): it keeps running, each hostile tweet is a rule_error
    line naming its tweet and counted, every other tweet's item is written
    once, RSS stays bounded, and SIGTERM stops it with exit 0."""
    rounds = 1 if SANITIZED else 2
    n = 4 * len(HOSTILE_RULE_KINDS) * rounds
    lines = tweet_lines(n, 1, 77)
    hostile_ids = {str(i) for i in range(1, n + 1) if i % 4 == 2}
    with Ctx("hostile_rules") as cx:
        cx.table()
        cx.proxy_start()
        with open(os.path.join(ROOT, "tests", "data", "scripts", "hostile.lua"), encoding="utf-8") as f:
            write_script(cx, "hostile.lua", f.read())
        rule = write_script(cx, "hostile_rules.lua", HOSTILE_RULES)
        env = {"RULE_MEMORY_MB": 16}
        expected, counts = cx.expected_items(rule, lines, env)
        eq((counts["errors"], len(expected)), (len(hostile_ids), n - len(hostile_ids)),
           "tweetmatch test: errors, items")
        srv = cx.stream({"auth": OAUTH, "connections": [
            [{"respond": 200}, {"lines": lines, "split": "random", "max_chunk": 4096}, {"hold": True}]]})
        d = cx.daemon(srv, MATCHER_SCRIPT=rule, STATS_INTERVAL_SECONDS=1, **env)
        rss = d.sample_rss()
        try:
            wait_stats(d, drained(n), timeout=150, what="stats with every tweet processed")
        finally:
            samples = rss.stop()
        check(d.proc.poll() is None, "the daemon stopped by itself", d.stderr[-2000:])
        st = finish(cx, d)
        eq((st["tweets"], st["rule_errors"], st["items"], st["written"], st["dead_letter"]),
           (n, len(hostile_ids), n - len(hostile_ids), n - len(hostile_ids), 0),
           "tweets, rule_errors, items, written, dead letters")
        errs = d.of("rule_error")
        eq(len(errs), len(hostile_ids), "rule_error lines")
        eq({e.get("tweet_id") for e in errs}, hostile_ids, "the tweet ids of the rule_error lines")
        for e in errs:
            check(isinstance(e.get("error"), str) and e["error"], "a rule_error line without a message", e)
        table, _ = check_table(cx, d, expected)
        eq(sorted(table), sorted(expected), "the rows: every good tweet's item, once")
        peak = rss.peak
        print("%d tweets, %d hostile; RSS peak %d KiB over %d samples, %d KiB at the end" % (
            n, len(hostile_ids), peak, len(samples), samples[-1] if samples else 0))
        if SANITIZED:
            print("sanitizer build: RSS not checked")
            return
        # The rule's state is capped at 16 MB; whatever a rule does, the
        # process may hold that, a state being rebuilt, and its own buffers.
        check(samples and peak < 120 * 1024, "RSS peaked at %d KiB" % peak)


def main(argv):
    if argv == ["--list"]:
        print("\n".join(CASES))
        return 0
    if len(argv) != 1 or argv[0] not in CASES:
        print("usage: cases.py --list | CASE", file=sys.stderr)
        return 2
    t = time.time()
    try:
        CASES[argv[0]]()
    except Fail as e:
        print("FAIL %s: %s" % (argv[0], e), file=sys.stderr)
        return 1
    except SystemExit as e:  # moto_ctl: moto_server missing
        print("FAIL %s: %s" % (argv[0], e), file=sys.stderr)
        return 1
    except Exception:
        traceback.print_exc()
        return 1
    print("ok %s (%.1f s)" % (argv[0], time.time() - t))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
