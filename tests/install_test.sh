#!/usr/bin/env bash
# The install target: installs into a fresh prefix, moves it elsewhere, and
# checks that the installed binary finds its lua/ and scripts/ by itself.
set -euo pipefail
build=$1
src=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
mv "$tmp/prefix" "$tmp/moved"
bin="$tmp/moved/bin/tweetmatch"
test -x "$bin"
test -f "$tmp/moved/share/tweetmatch/lua/tweetmatch.lua"
test -f "$tmp/moved/share/tweetmatch/scripts/filter.lua"
# Run from an unrelated folder with the source tree out of sight.
cd "$tmp"
unset TWEETMATCH_HOME
out=$(printf '{"id_str":"1","text":"I like cloud computing a lot","user":{"screen_name":"ann"},"created_at":"Mon Oct 10 20:00:00 +0000 2022"}\n' |
      FILTER="cloud computing" "$bin" test moved/share/tweetmatch/scripts/filter.lua 2>/dev/null)
case "$out" in
  *'"user":{"S":"ann"}'*) ;;
  *) echo "installed binary printed: $out" >&2; exit 1 ;;
esac
# The helper module must come from the installed tree, not the source tree.
printf 'local tm = require "tweetmatch"\nreturn { match = function(t) return { p = package.searchpath("tweetmatch", package.path) } end }\n' > where.lua
where=$(echo '{"id_str":"1"}' | "$bin" test --plain where.lua 2>/dev/null)
case "$where" in
  *"$tmp/moved/"*) ;;
  *) echo "helper module resolved to: $where" >&2; exit 1 ;;
esac
"$bin" check moved/share/tweetmatch/scripts/filter.lua
echo "installed tree works from $tmp/moved"
