#!/bin/sh
# Runs the node:test files of the given test tier directories. Node 20's runner does not discover .ts files
# itself, and given no files it falls back to its own discovery (which would run fixtures): so list them,
# and refuse an empty list rather than pass with nothing run.
set -eu
files=$(find "$@" -name '*.test.ts' | sort)
if [ -z "$files" ]; then
  echo "run-tier: no *.test.ts files under: $*" >&2
  exit 1
fi
# shellcheck disable=SC2086 # one argument per file (paths have no spaces)
exec node --import tsx --test --test-concurrency=2 $files
