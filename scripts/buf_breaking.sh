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
# Giving a file its first go_package breaks nobody (no Go code could import a package the
# contract had not named), so that one finding is let through; changing a go_package is not.
findings=$("$BUF" breaking --against ".git#ref=$against" --error-format json) && exit 0 || status=$?
[ -n "$findings" ] || exit "$status"
printf '%s\n' "$findings" | python3 -c '
import json, sys
kept = 0
for line in sys.stdin:
    finding = json.loads(line)
    if finding["type"] == "FILE_SAME_GO_PACKAGE" and finding["message"].startswith(
        "File option \"go_package\" changed from \"\" to "
    ):
        continue
    kept += 1
    print("{path}:{start_line}:{start_column}:{message}".format(**finding))
sys.exit(100 if kept else 0)
'
