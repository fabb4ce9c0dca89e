#!/usr/bin/env bash
# Runs the go command on the Go client without the network: GOPATH mode, with this
# directory as the package tracking/client/go and Debian's Go sources (/usr/share/gocode,
# from the packages in debian-packages.txt) for everything it imports. With network
# access, plain modules work as well (go.mod; `go mod tidy` first).
#   client/go/gopath.sh test ./...     client/go/gopath.sh run ./examples/lifecycle ADDRESS
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd -P)
root=${TRACKING_GOPATH:-$here/../../.venv/gopath}
mkdir -p "$root/src/tracking/client"
ln -sfn "$here" "$root/src/tracking/client/go"
export GOPATH="$root:/usr/share/gocode" GO111MODULE=off GOFLAGS= GOPROXY=off CGO_ENABLED=0
cd "$root/src/tracking/client/go"
exec go "$@"
