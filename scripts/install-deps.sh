#!/usr/bin/env bash
# Installs the Debian 12 packages logpipe needs to build and test, only those missing.
# Safe to run repeatedly; uses sudo when not root.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libre2-dev libtbb-dev libboost-program-options-dev libyaml-cpp-dev
  zlib1g-dev libzstd-dev libgtest-dev libgmock-dev libbenchmark-dev nlohmann-json3-dev
  libcurl4-openssl-dev libcpp-httplib-dev libssl-dev openssl
  python3 gzip zstd
  chromium  # headless, for the comparison report's browser test (tests/pipeline/compare_html_test.cc)
  clang libclang-rt-14-dev  # libFuzzer and its sanitizer runtimes (scripts/fuzz.sh)
  systemd logrotate  # systemd-analyze verify, logrotate -d: the shipped examples (tests/e2e/cron_examples_test.cc)
  slurm-wlm munge  # a private single-node Slurm for plan/map/reduce (tests/e2e/slurm_test.sh)
  parallel  # GNU parallel, one engine of scripts/parallel/logpipe-parallel (tests/e2e/slurm_test.sh)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "logpipe: installing ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
