#!/usr/bin/env bash
# tweetmatch throughput benchmark: see tests/bench/README.md.
#
#   tests/bench/run.sh [options] [BINARY]
#
# BINARY defaults to build/tweetmatch under the repository root. Nothing is
# built here. Generates a corpus into a temporary directory, then times,
# interleaved (a b c a b c ...), R repetitions of
#   a  lua5.4 tests/bench/decode_bound.lua CORPUS          (the decoder bound)
#   b  FILTER="cloud computing" BINARY test scripts/filter.lua CORPUS
#   c  the same with a FILTER of 1,000 phrases
# and prints medians, throughputs, ratios and peak RSS beside the goals.
# Missing a goal is reported, not fatal; exit 1 if a run fails (non-zero
# exit, errors > 0 in the summary, matched == 0, or a count of tweets and
# control messages that is not the corpus's count of lines).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

usage() {
    cat <<EOF
usage: tests/bench/run.sh [options] [BINARY]

  BINARY            the tweetmatch binary (default: $root/build/tweetmatch)
  --tweets N        corpus size (default 20000)
  --reps R          timed repetitions of each command (default 5)
  --phrases N       phrases in the FILTER of run c (default 1000)
  --json FILE       also write the figures as JSON to FILE
  --corpus FILE     use this NDJSON corpus instead of generating one
  --script FILE     rule script (default: scripts/filter.lua)
  --seed S          corpus and phrase seed (default: gen_corpus.py's)
  --keep            keep the temporary directory (corpus, outputs)
  -h, --help        this text
EOF
}

bin=$root/build/tweetmatch
tweets=20000 reps=5 nphrases=1000 json= corpus= script=$root/scripts/filter.lua seed= keep=0
while [ $# -gt 0 ]; do
    case $1 in
        --tweets) tweets=${2:?--tweets needs N}; shift 2 ;;
        --reps) reps=${2:?--reps needs R}; shift 2 ;;
        --phrases) nphrases=${2:?--phrases needs N}; shift 2 ;;
        --json) json=${2:?--json needs FILE}; shift 2 ;;
        --corpus) corpus=${2:?--corpus needs FILE}; shift 2 ;;
        --script) script=${2:?--script needs FILE}; shift 2 ;;
        --seed) seed=${2:?--seed needs S}; shift 2 ;;
        --keep) keep=1; shift ;;
        -h|--help) usage; exit 0 ;;
        -*) echo "run.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
        *) bin=$1; shift ;;
    esac
done
for v in tweets reps nphrases; do
    case ${!v} in ''|*[!0-9]*|0) echo "run.sh: --$v must be a positive integer, got '${!v}'" >&2; exit 2 ;; esac
done

die() { echo "run.sh: $*" >&2; exit 2; }
[ -x "$bin" ] || die "no tweetmatch binary at $bin (build it: cmake -S . -B build && make -C build)"
[ -f "$script" ] || die "no rule script at $script"
command -v lua5.4 >/dev/null || die "lua5.4 not found (apt-get install lua5.4 lua-cjson)"
lua5.4 -e 'require "cjson"' 2>/dev/null || die "lua5.4 cannot load cjson (apt-get install lua-cjson)"
command -v python3 >/dev/null || die "python3 not found"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tm-bench.XXXXXX")
if [ "$keep" = 1 ]; then
    echo "run.sh: keeping $tmp" >&2
else
    trap 'rm -rf "$tmp"' EXIT
fi

seedopt=()
[ -n "$seed" ] && seedopt=(--seed "$seed")
gen_info='{}'
if [ -z "$corpus" ]; then
    corpus=$tmp/corpus.ndjson
    echo "generating $tweets tweets ..." >&2
    gen_info=$(python3 "$here/gen_corpus.py" "${seedopt[@]}" "$tweets" "$corpus")
fi
[ -r "$corpus" ] || die "cannot read corpus $corpus"
python3 "$here/gen_corpus.py" "${seedopt[@]}" --phrases "$nphrases" > "$tmp/phrases.txt"

# Peak RSS comes from GNU time (%M) when installed: a process forked from
# the Python harness would carry the harness's own RSS into its ru_maxrss
# (Linux keeps the high-water mark across exec), while GNU time's child starts
# from GNU time's small footprint.
gnutime=
if [ -x /usr/bin/time ] && /usr/bin/time -f %M -o /dev/null true 2>/dev/null; then
    gnutime=/usr/bin/time
else
    echo "run.sh: GNU time not found (apt-get install time): peak RSS is an upper bound" >&2
fi

# The harness: interleaved runs, wall time by the clock around each run.
python3 - "$bin" "$script" "$corpus" "$tmp" "$reps" "$json" "$gen_info" "$here" "$gnutime" <<'PY'
import json, os, platform, re, statistics, subprocess, sys, time

bin_, script, corpus, tmp, reps, json_path, gen_info, here, gnutime = sys.argv[1:]
reps = int(reps)
gen_info = json.loads(gen_info)
size = os.path.getsize(corpus)
with open(corpus, "rb") as f:
    lines = sum(1 for l in f if l.strip())
many = open(os.path.join(tmp, "phrases.txt")).read().strip()
n_many = len([p for p in many.split(",") if p.strip()])

SUMMARY = re.compile(r"tweets: (\d+), matched: (\d+), items: (\d+), deletes: (\d+), control: (\d+), errors: (\d+)\s*$")

def env_with(filter_):
    e = dict(os.environ)
    e["FILTER"] = filter_
    return e

CASES = [
    ("bound", "a  decode bound (lua5.4+cjson)", ["lua5.4", os.path.join(here, "decode_bound.lua"), corpus], None),
    ("one_phrase", "b  tweetmatch, 1 phrase", [bin_, "test", script, corpus], env_with("cloud computing")),
    ("many_phrases", "c  tweetmatch, %d phrases" % n_many, [bin_, "test", script, corpus], env_with(many)),
]

RSS_PATH = os.path.join(tmp, "maxrss")

def run_once(key, argv, env):
    """Runs argv once: (wall s, cpu s, peak RSS KiB, exit code, stderr)."""
    err_path = os.path.join(tmp, key + ".stderr")
    if gnutime:
        argv = [gnutime, "-f", "%M", "-o", RSS_PATH] + argv
    with open(os.devnull, "wb") as out, open(err_path, "wb") as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    maxrss = ru.ru_maxrss  # fallback: an upper bound (includes the harness's RSS at fork)
    if gnutime:
        # "Command exited with non-zero status N" may come first
        maxrss = int(open(RSS_PATH).read().split()[-1])
    stderr = open(err_path, "rb").read().decode("utf-8", "replace")
    return wall, ru.ru_utime + ru.ru_stime, maxrss, code, stderr

failures = []

def check(key, label, code, stderr):
    last = stderr.strip().splitlines()[-1] if stderr.strip() else ""
    info = {}
    if code != 0:
        failures.append("%s: exit %d\n%s" % (label, code, "\n".join(stderr.strip().splitlines()[-5:])))
    if key == "bound":
        m = re.search(r"decoded: (\d+)", last)
        if not m or int(m.group(1)) != lines:
            failures.append("%s: decoded %s of %d lines" % (label, m.group(1) if m else "?", lines))
        return info
    m = SUMMARY.search(last)
    if not m:
        failures.append("%s: no summary line on stderr (last line: %r)" % (label, last))
        return info
    t, matched, items, _, control, errors = map(int, m.groups())
    info = {"tweets": t, "matched": matched, "items": items, "control": control, "errors": errors}
    if errors > 0:
        failures.append("%s: errors: %d\n%s" % (label, errors, "\n".join(stderr.strip().splitlines()[:5])))
    if matched == 0:
        failures.append("%s: matched: 0" % label)
    if t + control != lines:
        failures.append("%s: tweets: %d, control: %d, but the corpus has %d lines" % (label, t, control, lines))
    return info

walls = {k: [] for k, *_ in CASES}
cpus = {k: [] for k, *_ in CASES}
rss = {k: [] for k, *_ in CASES}
infos = {}

print("corpus: %d tweets, %.1f MB (%d B/tweet)%s; %d repetitions + 1 warm-up, interleaved"
      % (lines, size / 1e6, size // max(lines, 1),
         ", %d with the phrase" % gen_info["with_phrase"] if "with_phrase" in gen_info else "", reps),
      file=sys.stderr)
for rnd in range(reps + 1):  # round 0: the warm-up, checked but not counted
    for key, label, argv, env in CASES:
        wall, cpu, maxrss, code, stderr = run_once(key, argv, env)
        info = check(key, label, code, stderr)
        if failures:
            sys.exit("run.sh: FAILED\n  " + "\n  ".join(failures))
        if rnd == 0:
            infos[key] = info
            continue
        walls[key].append(wall)
        cpus[key].append(cpu)
        rss[key].append(maxrss)
    if rnd:
        print("  round %d/%d: %s" % (rnd, reps, "  ".join("%s %.3f s" % (l[0], walls[k][-1]) for k, l, *_ in CASES)),
              file=sys.stderr)

res = {}
for key, label, argv, _ in CASES:
    med = statistics.median(walls[key])
    res[key] = {
        "label": label[3:],
        "wall_s": [round(w, 4) for w in walls[key]],
        "median_s": round(med, 4),
        "min_s": round(min(walls[key]), 4),
        "cpu_median_s": round(statistics.median(cpus[key]), 4),
        "tweets_per_s": round(lines / med, 1),
        "mb_per_s": round(size / 1e6 / med, 2),
        "peak_rss_kib": max(rss[key]),
    }
    res[key].update(infos.get(key, {}))

pct = 100.0 * res["one_phrase"]["tweets_per_s"] / res["bound"]["tweets_per_s"]
ratio = res["many_phrases"]["median_s"] / res["one_phrase"]["median_s"]
rss_mib = res["one_phrase"]["peak_rss_kib"] / 1024.0
goals = {
    "pct_of_bound": {"value": round(pct, 1), "goal": ">= 90", "met": pct >= 90},
    "peak_rss_mib_one_phrase": {"value": round(rss_mib, 2), "goal": "< 10", "met": rss_mib < 10},
    "many_vs_one_time": {"value": round(ratio, 3), "goal": "<= 2", "met": ratio <= 2},
}

print()
print("tweetmatch benchmark: %d tweets, %.1f MB, median of %d interleaved runs" % (lines, size / 1e6, reps))
print("%-34s %8s %10s %8s %9s %9s" % ("", "wall s", "tweets/s", "MB/s", "cpu s", "peak RSS"))
for key, label, *_ in CASES:
    r = res[key]
    print("%-34s %8.3f %10.0f %8.1f %9.3f %6.1f MiB" % (label, r["median_s"], r["tweets_per_s"], r["mb_per_s"],
                                                       r["cpu_median_s"], r["peak_rss_kib"] / 1024.0))
print("   b: matched %d of %d tweets;  c: matched %d;  errors: 0"
      % (res["one_phrase"]["matched"], res["one_phrase"]["tweets"], res["many_phrases"]["matched"]))
print()
def row(name, value, goal, met):
    print("%-34s %12s   goal %-8s %s" % (name, value, goal, "met" if met else "MISSED"))
row("b throughput, of the decoder bound", "%.1f %%" % pct, ">= 90 %", goals["pct_of_bound"]["met"])
row("b peak RSS", "%.2f MiB" % rss_mib, "< 10 MiB", goals["peak_rss_mib_one_phrase"]["met"])
row("c time / b time", "%.2f x" % ratio, "<= 2 x", goals["many_vs_one_time"]["met"])
if "with_phrase" in gen_info and res["one_phrase"].get("matched") != gen_info["with_phrase"]:
    print("note: b matched %s tweets, the generator planted the phrase in %d"
          % (res["one_phrase"].get("matched"), gen_info["with_phrase"]))

def first_line(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.strip().splitlines()[0]
    except Exception:
        return None

if json_path:
    doc = {
        "corpus": {"tweets": lines, "bytes": size, "bytes_per_tweet": size // max(lines, 1),
                   "generated": gen_info or None, "phrases_c": n_many},
        "repetitions": reps,
        "binary": os.path.abspath(bin_),
        "script": os.path.abspath(script),
        "version": first_line([bin_, "version"]),
        "host": {"machine": platform.machine(), "system": platform.platform(), "cpus": os.cpu_count()},
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "runs": {"a_bound": res["bound"], "b_one_phrase": res["one_phrase"], "c_many_phrases": res["many_phrases"]},
        "goals": goals,
        "units": {"mb": "10^6 bytes of input", "peak_rss_kib": "KiB, max over the runs"},
        "rss_method": "GNU time %M" if gnutime else "wait4 ru_maxrss (upper bound: includes the harness's RSS)",
    }
    with open(json_path, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    print("figures written to %s" % json_path)
PY
