#!/usr/bin/env bash
# Installs what filmroom needs on a Debian machine, and only what is missing.
#   scripts/setup.sh run    what `make run` needs: ffmpeg, a speech engine, the web app's npm packages
#   scripts/setup.sh test   also what the tests need: Chromium, espeak-ng, MinIO, sox, pocketsphinx test data
#   scripts/setup.sh bench  also what the benchmarks need
# As root it installs Debian packages with apt-get; otherwise it names the
# packages to install and stops.
set -euo pipefail

mode="${1:-run}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

say() { printf 'setup: %s\n' "$*"; }

# Debian packages: command (or file) that proves the package is there, package name.
need=(
  "ffmpeg:ffmpeg"
  "ffprobe:ffmpeg"
  "pocketsphinx_continuous:pocketsphinx"
  "/usr/share/pocketsphinx/model/en-us/en-us:pocketsphinx-en-us"
)
if [[ "$mode" == "test" || "$mode" == "bench" ]]; then
  need+=(
    "chromium:chromium"
    "espeak-ng:espeak-ng"
    "sox:sox"
  )
fi
if [[ "$mode" == "bench" ]]; then
  need+=("/usr/share/pocketsphinx/test/data/librivox:pocketsphinx-testdata")
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  need+=("node:nodejs" "npm:npm")
fi

missing=()
for pair in "${need[@]}"; do
  probe="${pair%%:*}" pkg="${pair##*:}"
  if [[ "$probe" == /* ]]; then
    [[ -e "$probe" ]] && continue
  else
    command -v "$probe" >/dev/null 2>&1 && continue
  fi
  [[ " ${missing[*]-} " == *" $pkg "* ]] || missing+=("$pkg")
done

if ((${#missing[@]})); then
  if [[ "$(id -u)" == 0 ]]; then
    say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    say "missing Debian packages: ${missing[*]}"
    say "install them with: sudo apt-get install ${missing[*]}"
    exit 1
  fi
fi

# The web app's packages, when the lock file changed since the last install.
if [[ ! -f frontend/node_modules/.package-lock.json || frontend/package-lock.json -nt frontend/node_modules/.package-lock.json ]]; then
  say "installing the web app's npm packages (npm ci)"
  (cd frontend && npm ci --no-audit --no-fund --loglevel=error)
fi

if [[ "$mode" == "test" || "$mode" == "bench" ]]; then
  scripts/minio.sh
fi
say "ok ($mode)"
