#!/usr/bin/env bash
# clang-tidy with the project's .clang-tidy over every source file of src/, using the build's
# compile_commands.json. Fails on any finding in our own files (system headers are filtered by
# clang-tidy itself; the generated protos are not in src/).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${1:-build}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
git ls-files 'src/*.cc' | xargs -P "$(nproc)" -n 4 clang-tidy -p "$BUILD_DIR" --quiet >"$log" 2>&1 || true
findings=$(grep -E "^$(pwd)/src/.*(warning|error):" "$log" || true)
if [ -n "$findings" ]; then
  echo "$findings"
  echo "clang-tidy: $(echo "$findings" | wc -l) finding(s) in src/" >&2
  exit 1
fi
echo "clang-tidy: no findings in $(git ls-files 'src/*.cc' | wc -l) files"
