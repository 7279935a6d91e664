#!/usr/bin/env bash
# tweetmatch pipeline benchmark: see tests/bench/README.md ("Benchmark: the
# whole pipeline").
#
#   tests/bench/pipeline.sh [options] [BINARY]
#
# On this machine: moto_server, the fake stream server, and three writers of
# the same realistic tweets into DynamoDB (moto): `tweetmatch run`, the
# original Python logic with one boto3 client reused, and as published with a
# boto3 client per tweet. Prints CPU (user + sys) per written item and peak
# RSS of each, the ratios and the goals. Missing a goal is reported, not
# fatal; exit 1 when a run fails (a writer exits non-zero or a table does not
# hold every item), 2 on a usage problem (no binary, no moto_server, no boto3).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

usage() {
    cat <<EOF
usage: tests/bench/pipeline.sh [options] [BINARY]

  BINARY               the tweetmatch binary (default: $root/build/tweetmatch)
  --tweets N           tweets for tweetmatch and the reused-client run (default 5000)
  --published-tweets M tweets for the client-per-tweet run, a prefix (default 300)
  --reps R             runs of each, interleaved; medians reported (default 1)
  --corpus FILE        your own NDJSON (every tweet must match "cloud computing")
  --seed S             corpus seed (default: gen_corpus.py's)
  --json FILE          also write the figures as JSON
  --env NAME=VALUE     an environment variable for tweetmatch run (repeatable), e.g. DDB_QUEUE_MAX=1000
  --floor FILE         tm_rss_floor (default: tests/tm_rss_floor in the binary's build directory)
  --ddb-server S       keepalive (default): moto's app behind an HTTP/1.1 server that
                       keeps connections open, as DynamoDB does (moto_keepalive.py);
                       moto_server: moto's own server, which closes every connection
  --writers LIST       which writers run: tweetmatch,reused,published (default all;
                       tweetmatch always runs, so --writers tweetmatch times it alone)
  --keep               keep the temporary directory (corpus, logs)
  -h, --help           this text
EOF
}

bin=$root/build/tweetmatch
args=()
while [ $# -gt 0 ]; do
    case $1 in
        --tweets|--published-tweets|--reps|--corpus|--seed|--json|--env|--floor|--writers|--ddb-server)
            [ $# -ge 2 ] || { echo "pipeline.sh: $1 needs a value" >&2; exit 2; }
            args+=("$1" "$2"); shift 2 ;;
        --keep) args+=("$1"); shift ;;
        -h|--help) usage; exit 0 ;;
        -*) echo "pipeline.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
        *) bin=$1; shift ;;
    esac
done

die() { echo "pipeline.sh: $*" >&2; exit 2; }
[ -x "$bin" ] || die "no tweetmatch binary at $bin (build it: cmake -S . -B build && make -C build)"
command -v python3 >/dev/null || die "python3 not found"
command -v moto_server >/dev/null || die "moto_server not found: pip install 'moto[server]'"
python3 -c 'import boto3' 2>/dev/null || die "the python3 on PATH cannot import boto3 (pip install boto3, or apt-get install python3-boto3)"
exec python3 "$here/pipeline.py" --tweetmatch "$bin" "${args[@]}"
