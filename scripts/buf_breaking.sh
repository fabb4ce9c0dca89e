#!/usr/bin/env bash
# `buf breaking` against the last commit of main: main's tip when this checkout differs from it
# (another branch, or changes not committed yet); main's previous commit when this checkout is
# main itself, as in CI, so that the newest change to main is the one checked.
set -euo pipefail
cd "$(dirname "$0")/.."
BUF=tools/node_modules/.bin/buf
main=$(git rev-parse --verify -q main) || { echo "buf breaking: no branch main to compare with" >&2; exit 1; }
if [ "$(git rev-parse HEAD)" = "$main" ] && git diff --quiet HEAD -- protos buf.yaml; then
    against=$(git rev-parse --verify -q "$main~1") || { echo "buf breaking: main has one commit, nothing to compare"; exit 0; }
    echo "buf breaking: against main's previous commit $against"
else
    against=$main
    echo "buf breaking: against main $against"
fi
"$BUF" breaking --against ".git#ref=$against"
