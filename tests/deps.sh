#!/usr/bin/env bash
# Installs the Debian 12 packages tweetmatch builds and tests with, when they
# are missing. Sourced by demo.sh and run-all.sh; needs root only when
# something is missing.
tm_deps() {
  local pkgs=(gcc make cmake pkg-config liblua5.4-dev lua-cjson-dev libcurl4-openssl-dev libssl-dev
              zlib1g-dev python3 python3-botocore lua5.4 lua-cjson "$@")
  local missing=()
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages: ${missing[*]}" >&2
    echo "run as root, or: sudo apt-get install ${missing[*]}" >&2
    return 1
  fi
  echo "installing: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}
