#!/usr/bin/env bash
# The main job on its local default: builds tweetmatch, then runs the default
# rule (scripts/filter.lua, the original task's behaviour) over the bundled
# tweets with FILTER="cloud computing", printing the items it would write.
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/deps.sh
tm_deps
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
export FILTER="${FILTER:-cloud computing}"
echo "FILTER=\"$FILTER\" tweetmatch test scripts/filter.lua tests/data/v11_tweets.ndjson tests/data/v2_stream.ndjson" >&2
exec build/tweetmatch test scripts/filter.lua tests/data/v11_tweets.ndjson tests/data/v2_stream.ndjson
