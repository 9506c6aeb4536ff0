#!/usr/bin/env bash
# Builds bench/.cache/sluice-loadgen from bench/loadgen (Go, standard library only: no module
# downloads, works offline). It plays the role the issue gave to k6 + xk6-redis: k6 is AGPL and
# this machine's package notes list it as not to be used. Rebuilds only when a source changed.
set -euo pipefail
cd "$(dirname "$0")/.."
out=.cache/sluice-loadgen
mkdir -p .cache
if ! command -v go >/dev/null 2>&1; then
  echo "build-loadgen: Go is not installed (apt-get install -y golang-go, or a Go toolchain from the Go module proxy)" >&2
  exit 3
fi
if [ -x "$out" ] && [ -z "$(find loadgen -newer "$out" -type f)" ]; then
  echo "build-loadgen: $out is up to date"
  exit 0
fi
echo "build-loadgen: go build -o $out ./loadgen ($(go version))"
(cd loadgen && GOFLAGS=-buildvcs=false go build -trimpath -o "../$out" .)
echo "build-loadgen: built $out"
