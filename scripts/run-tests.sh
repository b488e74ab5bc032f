#!/usr/bin/env bash
# The whole test suite: formatting and clang-tidy checks; unit tests (GoogleTest) and
# integration tests (real weft-proxy processes, real upstreams and clients on loopback and in
# network namespaces), all registered with CTest; then a bounded libFuzzer run of the HTTP/1
# parser and a smoke run of the benchmark harness (so `make bench` keeps working).
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

ctest --test-dir "$BUILD_DIR" --output-on-failure --timeout 300
echo "== fuzzing the HTTP/1 parser for ${WEFT_FUZZ_SECONDS:-60}s"
./scripts/run-fuzz.sh "${WEFT_FUZZ_SECONDS:-60}"
echo "== benchmark harness smoke run"
./bench/smoke_test.sh "$BUILD_DIR"
