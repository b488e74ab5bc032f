#!/usr/bin/env bash
# Installs everything Weft needs to build, test and benchmark on Debian 12, idempotently:
# Debian packages through apt-get (only when one is missing) and the pinned npm package that
# carries Envoy's API protos (api/package-lock.json).
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  # build
  build-essential cmake ninja-build ccache pkg-config clang clang-format clang-tidy libclang-rt-14-dev
  # libraries
  libssl-dev libprotobuf-dev protobuf-compiler libgrpc++-dev protobuf-compiler-grpc
  libnghttp2-dev libyaml-cpp-dev nlohmann-json3-dev libabsl-dev libc-ares-dev libre2-dev
  libsqlite3-dev libspdlog-dev libfmt-dev libcli11-dev libgtest-dev libgmock-dev libbenchmark-dev
  # tests and benchmarks: real clients, real peers
  curl wrk nghttp2-client nghttp2-server nginx-light haproxy python3 python3-grpcio procps iproute2
  util-linux iptables
  # the proto package comes from npm
  nodejs npm
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  # npm may come with node itself rather than from Debian: do not fight it.
  if command -v npm >/dev/null 2>&1; then
    missing=("${missing[@]/npm}"); missing=("${missing[@]/nodejs}")
  fi
  missing=($(printf '%s\n' "${missing[@]}" | grep -v '^$' || true))
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Envoy's API protos, pinned by api/package-lock.json.
if [ ! -f api/node_modules/.package-lock.json ] || [ api/package-lock.json -nt api/node_modules/.package-lock.json ]; then
  (cd api && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
fi
