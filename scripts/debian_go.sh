#!/usr/bin/env bash
# Installs the Debian packages of client/go/debian-packages.txt at their exact versions
# (the Go toolchain, protoc-gen-go, protoc-gen-go-grpc and the Go sources the client builds
# against) when one is missing or at another version. Without apt-get or root it says what
# is missing; under CI=true that fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
wanted=()
while read -r name version; do
    [[ -z "$name" || "$name" == \#* ]] && continue
    have=$(dpkg-query -W -f='${Version}' "$name" 2>/dev/null || true)
    [ "$have" = "$version" ] || wanted+=("$name=$version")
done < client/go/debian-packages.txt
[ ${#wanted[@]} -eq 0 ] && exit 0
if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "installing ${wanted[*]}"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${wanted[@]}"
    exit 0
fi
message="the Go client needs the Debian packages ${wanted[*]} (apt-get install, as root)"
if [ "${CI:-}" = "true" ]; then
    echo "CI=true and $message" >&2
    exit 1
fi
echo "$message; the Go parts are skipped"
