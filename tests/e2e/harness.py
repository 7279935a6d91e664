"""harness.py: the pieces of the end-to-end tests of `tweetmatch run`.

Real processes on 127.0.0.1: moto_server (tests/ddb/moto_ctl.py) with the
fault-injecting proxy in front of it (tests/ddb/faultproxy.py), the fake
Twitter stream (tests/stream/fake_stream.py) and the tweetmatch binary as a
child process with an environment built from scratch (nothing of the
caller's environment leaks in but PATH, locale and sanitizer options).

    with Ctx("name") as cx:
        cx.table()                          # CreateTable on moto
        cx.proxy_start(Plan(throttle=0.1))  # optional: faults in front of moto
        srv = cx.stream({"connections": [...]})
        d = cx.daemon(FILTER="cloud computing")
        d.wait_for(lambda e: e["event"] == "stats")
        d.stop()                            # SIGTERM, wait, exit code

Every byte a daemon or a `tweetmatch` command writes (stdout, stderr, the
dead-letter file, the heartbeat file) is kept and, when the context closes,
searched for every secret value the tests hand out (raw, percent-encoded and
base64-encoded): a leak fails the case.

Environment: TWEETMATCH (the binary; default build/tweetmatch),
TM_E2E_SCALE (a factor on the tweet counts, default 1; the sanitizer build
sets it lower), TM_E2E_SANITIZED=1 (a sanitizer build: the soak run only
checks its counts, not RSS, and the 100 MB line a looser peak RSS),
TM_E2E_KEEP=1 (keep the temporary directory).
"""
import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "stream"))
sys.path.insert(0, os.path.join(ROOT, "tests", "ddb"))
import awsjson  # noqa: E402
import fake_stream  # noqa: E402
from faultproxy import Plan, Proxy  # noqa: E402,F401
from moto_ctl import Moto  # noqa: E402

TWEETMATCH = os.environ.get("TWEETMATCH") or os.path.join(ROOT, "build", "tweetmatch")
SCALE = float(os.environ.get("TM_E2E_SCALE") or "1")
SANITIZED = os.environ.get("TM_E2E_SANITIZED") == "1"
KEEP = os.environ.get("TM_E2E_KEEP") == "1"

REGION = "us-east-1"
TABLE = "twitter"
V1_PATH = "/1.1/statuses/filter.json"

# Made-up credentials, distinctive so that a leak is found by grep.
TWITTER = {
    "CONSUMERKEY": "e2eCK-Zq8vT1wfGS5xFFQUHFG-ckey",
    "CONSUMERSECRETKEY": "e2eCS-lBdTPrG32Gv96f8akA0O/secret+val",
    "ACCESSTOKEN": "e2eAT-481884223-HnIyMBhZzMcOF-tok",
    "ACCESSTOKENSECRET": "e2eATS-MtxxepVbJwT9muUzu6klSi5K=secret",
}
AWS_KEY = "AKIDE2ETESTKEY000001"
AWS_SECRET = "E2eSecretKey/YYsecretVALUE+0000000001"
BAD_AWS_KEY = "AKIDE2EUNKNOWNKEY001"
BAD_AWS_SECRET = "E2eUnknownSecret/XXsecret+000000000002"
SECRETS = list(TWITTER.values()) + [AWS_SECRET, BAD_AWS_SECRET]
OAUTH = {"mode": "oauth1", "consumer_key": TWITTER["CONSUMERKEY"], "consumer_secret": TWITTER["CONSUMERSECRETKEY"],
         "token": TWITTER["ACCESSTOKEN"], "token_secret": TWITTER["ACCESSTOKENSECRET"]}


class Fail(Exception):
    pass


def check(cond, what, *detail):
    if not cond:
        raise Fail(what + ("".join("\n    " + str(d)[:2000] for d in detail) if detail else ""))


def eq(got, want, what):
    check(got == want, what, "expected: %r" % (want,), "actual:   %r" % (got,))


def scaled(n, least=1):
    return max(least, int(n * SCALE))


def leak_forms(secret):
    """The forms in which a secret could leak: raw, percent-encoded, base64."""
    forms = {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote(secret, safe="-._~"),
             base64.b64encode(secret.encode()).decode().rstrip("=")}
    # A JSON writer escapes '/' as '\/' in some styles.
    forms |= {f.replace("/", "\\/") for f in list(forms)}
    return forms


# ---- item forms ----

def av_to_plain(v):
    """A DynamoDB attribute value as `tweetmatch test --plain` prints it."""
    (t, x), = v.items()
    if t == "S":
        return x
    if t == "N":
        return json.loads(x)
    if t == "BOOL":
        return x
    if t == "NULL":
        return None
    if t == "L":
        return [av_to_plain(e) for e in x]
    if t == "M":
        return {k: av_to_plain(e) for k, e in x.items()}
    if t in ("SS", "BS"):
        return sorted(x)
    if t == "NS":
        return sorted(json.loads(e) for e in x)
    return x


def item_to_plain(item):
    return {k: av_to_plain(v) for k, v in item.items()}


def canon(plain):
    return json.dumps(plain, sort_keys=True, ensure_ascii=False)


# ---- the daemon ----

class RssSampler:
    """VmRSS of a running daemon, sampled in a thread (Daemon.sample_rss)."""

    def __init__(self, daemon, period_s):
        self.samples = []
        self._stop = threading.Event()

        def run():
            while not self._stop.is_set():
                r = daemon.rss_kb()
                if r:
                    self.samples.append(r)
                time.sleep(period_s)
        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._thread.join()
        return self.samples

    @property
    def peak(self):
        return max(self.samples) if self.samples else 0


class Daemon:
    """A `tweetmatch run` child process; its stdout is read line by line as it
    comes (JSON log lines, parsed into events)."""

    def __init__(self, cx, env, name):
        self.cx = cx
        self.name = name
        self.out_path = os.path.join(cx.tmp, "%s.stdout" % name)
        self.err_path = os.path.join(cx.tmp, "%s.stderr" % name)
        self.err_f = open(self.err_path, "wb")
        self.lines = []
        self.events = []
        self.cond = threading.Condition()
        self.t0 = time.time()
        self.proc = subprocess.Popen([TWEETMATCH, "run"], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self.err_f, cwd=cx.tmp)
        self.pid = self.proc.pid
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.code = None
        self.exit_wall = None

    def _read(self):
        with open(self.out_path, "wb") as out:
            for raw in self.proc.stdout:
                out.write(raw)
                out.flush()
                line = raw.decode("utf-8", "replace").rstrip("\n")
                try:
                    ev = json.loads(line)
                    if not isinstance(ev, dict):
                        ev = {"event": "?not_an_object", "line": line}
                except ValueError:
                    ev = {"event": "?not_json", "line": line}
                ev["_t"] = time.time() - self.t0
                with self.cond:
                    self.lines.append(line)
                    self.events.append(ev)
                    self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def of(self, event):
        with self.cond:
            return [e for e in self.events if e.get("event") == event]

    def wait_for(self, pred, timeout=30, what="an event"):
        """Waits for a log event that pred accepts; returns it."""
        deadline = time.time() + timeout
        seen = 0
        with self.cond:
            while True:
                for e in self.events[seen:]:
                    if pred(e):
                        return e
                seen = len(self.events)
                left = deadline - time.time()
                if left <= 0 or (self.proc.poll() is not None and not self.reader.is_alive()):
                    break
                self.cond.wait(min(left, 0.2))
        raise Fail("%s: no %s within %.0f s (exit %s); last lines:\n    %s" % (
            self.name, what, timeout, self.proc.poll(), "\n    ".join(l[:400] for l in self.lines[-15:])))

    def wait_event(self, name, timeout=30, **fields):
        return self.wait_for(lambda e: e.get("event") == name and all(e.get(k) == v for k, v in fields.items()),
                             timeout, "%s event %s" % (name, fields or ""))

    def signal(self, sig):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def wait(self, timeout=60):
        try:
            self.code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise Fail("%s: did not exit within %d s" % (self.name, timeout))
        self.exit_wall = time.time()
        self.reader.join(10)
        self.err_f.close()
        return self.code

    def stop(self, timeout=40):
        """SIGTERM, then the exit code; also the seconds it took."""
        t = time.time()
        self.signal(signal.SIGTERM)
        code = self.wait(timeout)
        return code, time.time() - t

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(5)
        if not self.err_f.closed:
            self.err_f.close()

    @property
    def stderr(self):
        with open(self.err_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def final_stats(self):
        st = self.of("stats")
        check(st, "%s: no stats line" % self.name)
        return st[-1]

    def rss_kb(self):
        return self.status_kb("VmRSS")

    def status_kb(self, field):
        """A kB field of /proc/PID/status (VmRSS, VmHWM: the peak RSS), or
        None once the process is gone."""
        try:
            with open("/proc/%d/status" % self.pid) as f:
                for line in f:
                    if line.startswith(field + ":"):
                        return int(line.split()[1])
        except OSError:
            pass
        return None

    def sample_rss(self, period_s=0.05):
        """Starts sampling VmRSS every period_s in a thread; returns an
        RssSampler (stop() ends it; .samples are KiB, .peak their max)."""
        return RssSampler(self, period_s)

    def stdout_bytes(self):
        """stdout as written, undecoded (the events are decoded leniently)."""
        with open(self.out_path, "rb") as f:
            return f.read()


class Ctx:
    def __init__(self, name):
        self.name = name
        self.tmp = tempfile.mkdtemp(prefix="tm-e2e-%s-" % name)
        self.moto = None
        self.client = None
        self.proxy = None
        self.servers = []
        self.daemons = []
        self.extra_outputs = []  # (what, text) of other commands
        self.secrets = list(SECRETS)

    def __enter__(self):
        return self

    def __exit__(self, et, ev, tb):
        try:
            for d in self.daemons:
                d.kill()
            if et is None:
                self.check_no_secrets()
        finally:
            self.close()
        return False

    def close(self):
        for s in self.servers:
            s.stop()
        if self.proxy:
            self.proxy.stop()
        if self.moto:
            self.moto.stop()
        if KEEP:
            print("kept %s" % self.tmp, file=sys.stderr)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # -- servers --

    def moto_start(self):
        if self.moto is None:
            self.moto = Moto(log_path=os.path.join(self.tmp, "moto.log")).start()
            self.client = awsjson.Client(self.moto.port, region=REGION)
        return self.moto

    def table(self, name=TABLE, hash_key="id"):
        self.moto_start()
        self.client.create_table(name, hash_key=hash_key)
        return name

    def proxy_start(self, plan=None):
        self.moto_start()
        self.proxy = Proxy(self.moto.port, {AWS_KEY: (AWS_SECRET, None)}, region=REGION, plan=plan).start()
        return self.proxy

    def stream(self, script):
        """A fake stream server playing script (fake_stream.py); with
        "tls": [cert, key] it serves https."""
        script.setdefault("stream_path", V1_PATH)
        srv = fake_stream.Server(script).start()
        self.servers.append(srv)
        return srv

    def cert(self, names=("127.0.0.1", "localhost"), name="stream"):
        """A throwaway self-signed certificate for names, made now with the
        openssl command line: (certfile, keyfile). Serve it with
        cx.stream({"tls": [cert, key], ...}); trust it with AWS_CA_BUNDLE."""
        return fake_stream.make_cert(self.tmp, names, name)

    def endpoint(self):
        port = self.proxy.port if self.proxy else self.moto.port
        return "http://127.0.0.1:%d" % port

    # -- the daemon --

    def env(self, stream=None, **kw):
        """The environment of a daemon: the original task definition's
        variables (v1.1 keys, DYNAMODBTABLE, AWSREGION, FILTER), the local
        endpoints, and kw on top (a value None removes the variable)."""
        env = {k: v for k, v in os.environ.items()
               if k in ("PATH", "LANG", "LC_ALL", "TZ") or k.startswith(("ASAN_", "UBSAN_", "LSAN_", "TM_VALGRIND_"))}
        env.update({
            "DYNAMODBTABLE": TABLE, "AWSREGION": REGION, "FILTER": "cloud computing",
            "AWS_ACCESS_KEY_ID": AWS_KEY, "AWS_SECRET_ACCESS_KEY": AWS_SECRET,
            "AWS_EC2_METADATA_DISABLED": "true",
            "HEALTH_FILE": os.path.join(self.tmp, "health.json"),
            "DEADLETTER_FILE": os.path.join(self.tmp, "deadletters.ndjson"),
        })
        env.update(TWITTER)
        if stream is not None:
            env["STREAM_URL"] = stream.url()
        if self.moto is not None:
            env["AWS_ENDPOINT_URL_DYNAMODB"] = self.endpoint()
        for k, v in kw.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = str(v)
        return env

    def daemon(self, stream=None, name=None, **kw):
        d = Daemon(self, self.env(stream, **kw), name or "daemon%d" % (len(self.daemons) + 1))
        self.daemons.append(d)
        return d

    def run_cmd(self, args, env=None, timeout=60, what=None):
        """Runs a tweetmatch command to its end; its output is kept for the
        secret search. Returns (code, stdout, stderr)."""
        p = subprocess.run([TWEETMATCH] + list(args), env=env, stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=timeout, cwd=self.tmp)
        out, err = p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
        self.extra_outputs.append((what or " ".join(args), out + err))
        return p.returncode, out, err

    def health(self, env):
        return self.run_cmd(["health"], env=env, timeout=20, what="health")

    # -- results --

    def scan(self, name=TABLE):
        return self.client.scan(name)

    def scan_plain(self, name=TABLE):
        """The table as {id: plain item}."""
        out = {}
        for it in self.scan(name):
            p = item_to_plain(it)
            check(p["id"] not in out, "two rows with one id", p["id"])
            out[p["id"]] = p
        return out

    def deadletters_file(self, path=None):
        path = path or os.path.join(self.tmp, "deadletters.ndjson")
        if not os.path.exists(path):
            return []
        with open(path, encoding="utf-8") as f:
            return [json.loads(l) for l in f if l.strip()]

    def expected_items(self, script, lines, env_extra=None):
        """What `tweetmatch test --plain SCRIPT` makes of lines: {id: item}
        and the summary counts. The daemon must write exactly these."""
        path = os.path.join(self.tmp, "expect-input-%d.ndjson" % len(self.extra_outputs))
        with open(path, "w", encoding="utf-8") as f:
            for l in lines:
                f.write(l + "\n")
        env = self.env(**(env_extra or {}))
        code, out, err = self.run_cmd(["test", "--plain", script, path], env=env, timeout=300,
                                      what="test --plain")
        check(code in (0, 1), "tweetmatch test failed", err[-2000:])
        items = {}
        for l in out.splitlines():
            it = json.loads(l)
            items[it["id"]] = it
        summary = err.strip().splitlines()[-1]
        counts = dict((k.strip(), int(v)) for k, v in (p.split(":") for p in summary.split(",")))
        os.unlink(path)
        return items, counts

    def outputs(self):
        """Everything the processes wrote, as (what, text)."""
        out = list(self.extra_outputs)
        for d in self.daemons:
            for p in (d.out_path, d.err_path):
                if os.path.exists(p):
                    with open(p, "rb") as f:
                        out.append((p, f.read().decode("utf-8", "replace")))
        for fn in os.listdir(self.tmp):
            p = os.path.join(self.tmp, fn)
            if fn.startswith(("deadletters", "health")) and os.path.isfile(p):
                with open(p, "rb") as f:
                    out.append((p, f.read().decode("utf-8", "replace")))
        return out

    def check_no_secrets(self):
        outs = self.outputs()
        check(outs, "nothing captured to search for secrets")
        for secret in self.secrets:
            for form in leak_forms(secret):
                for what, text in outs:
                    check(form not in text, "a secret leaked into %s" % what,
                          "the value of a secret (form %r...)" % form[:6])


# ---- stream scripts ----

def tweet_lines(count, first_id, seed):
    return fake_stream.tweets({"count": count, "first_id": first_id, "seed": seed})


def write_script(cx, name, text):
    path = os.path.join(cx.tmp, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path
