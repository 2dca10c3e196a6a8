#!/usr/bin/env bash
# Installs every Debian 12 package keel's build, tests and benchmarks need.
#
# Idempotent: when everything is already installed it touches nothing (no
# apt-get update, no network). Runs without a TTY. Must run as root (or via
# sudo when available). node/npm: Debian's nodejs/npm are installed only when
# `node` is missing, so a NodeSource (or other) Node install is left alone.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

packages=(
  build-essential cmake ninja-build pkg-config git
  nlohmann-json3-dev libspdlog-dev libfmt-dev libcli11-dev
  libpcre2-dev libutf8proc-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libsentencepiece-dev sentencepiece
  python3 python3-sentencepiece python3-jinja2 python3-numpy
  libboost-dev
  libcpp-httplib-dev prometheus
  clang libclang-rt-14-dev
  ca-certificates
)
if ! command -v node >/dev/null 2>&1; then
  packages+=(nodejs npm)
elif ! command -v npm >/dev/null 2>&1; then
  # node without npm: only a Debian node can take Debian's npm.
  if dpkg-query -W -f='${Status}' nodejs 2>/dev/null | grep -q 'install ok installed' &&
     ! dpkg-query -W -f='${Version}' nodejs | grep -q nodesource; then
    packages+=(npm)
  else
    echo "install-deps: node is installed but npm is not, and node is not Debian's;" \
         "install npm alongside your node" >&2
    exit 1
  fi
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo=(sudo -E)
  else
    echo "install-deps: missing ${missing[*]}; run as root" >&2
    exit 1
  fi
fi

echo "install-deps: installing ${missing[*]}"
# Refresh the package lists only when they are absent or a package can't be
# found in them (a fresh container ships without lists).
needs_update=0
for p in "${missing[@]}"; do
  candidate=$(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/ {print $2}')
  if [[ -z $candidate || $candidate == "(none)" ]]; then
    needs_update=1
    break
  fi
done
if [[ $needs_update -eq 1 ]]; then
  "${sudo[@]}" apt-get update -q
fi
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "install-deps: done"
