#!/usr/bin/env bash
# The whole test suite: formatting and clang-tidy checks; the integration tests against a
# sanitizer build of weft-proxy (any AddressSanitizer/UBSan report fails the run); unit tests
# (GoogleTest) and integration tests (real weft-proxy processes, real upstreams and clients on
# loopback and in network namespaces), all registered with CTest; then a bounded libFuzzer run
# of the HTTP/1 parser and a smoke run of the benchmark harness (so `make bench` keeps working).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${1:-build}

echo "== formatting (clang-format, .clang-format)"
unformatted=$(git ls-files '*.cc' '*.h' | xargs clang-format --dry-run 2>&1 | grep -c 'warning:' || true)
if [ "$unformatted" != "0" ]; then
  git ls-files '*.cc' '*.h' | xargs clang-format --dry-run 2>&1 | grep 'warning:' | head -20
  echo "clang-format: $unformatted places differ; run 'make format'" >&2
  exit 1
fi

echo "== clang-tidy (.clang-tidy)"
./scripts/run-tidy.sh "$BUILD_DIR"

# The integration tests first run against weft-proxy built with AddressSanitizer + UBSan (the
# whole CTest suite follows, so its summary is the run's last word).
echo "== integration tests against weft-proxy built with AddressSanitizer + UBSan"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DWEFT_SANITIZE=address,undefined >/dev/null
cmake --build build-asan --target weft-proxy -j "$(nproc)" | tail -n 1
reports=$(mktemp -d)
chmod 1777 "$reports"  # sidecars started by add-to-mesh run as uid 1337 and write here too
WEFT_PROXY=$PWD/build-asan/bin/weft-proxy WEFT_SANITIZED=1 \
  ASAN_OPTIONS="log_path=$reports/asan:detect_leaks=1" \
  UBSAN_OPTIONS="log_path=$reports/ubsan:print_stacktrace=1" \
  ctest --test-dir "$BUILD_DIR" -R '^integration\.' --output-on-failure --timeout 600
if compgen -G "$reports/*" >/dev/null; then
  cat "$reports"/*
  echo "sanitizer reports above" >&2
  exit 1
fi
echo "no sanitizer reports"

echo "== the whole suite"
ctest --test-dir "$BUILD_DIR" --output-on-failure --timeout 300

# Each parser of untrusted bytes: the HTTP/1 codec, the tls_inspector's ClientHello reader and
# Istio's TCP metadata-exchange frame reader; WEFT_FUZZ_SECONDS (default 20) each.
for target in http1_parser_fuzz client_hello_fuzz mx_frame_fuzz; do
  echo "== fuzzing $target for ${WEFT_FUZZ_SECONDS:-20}s"
  ./scripts/run-fuzz.sh "${WEFT_FUZZ_SECONDS:-20}" "$target"
done
echo "== benchmark harness smoke run"
./bench/smoke_test.sh "$BUILD_DIR"
