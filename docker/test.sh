#!/usr/bin/env bash
# make test: every test, the sandbox included. Starts the sandbox (Asterisk
# PBX + simulator + PostgreSQL) when it is not running and stops it on exit
# if it started it; servers log to files, never to this terminal.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin
started=0
cleanup() {
  if [ "$started" = 1 ]; then docker/sandbox down || true; fi
}
trap cleanup EXIT INT TERM
t0=$(date +%s)
# Always (re)start the sandbox from this checkout's configuration and
# greeting; stop it at the end only if it was not running before.
docker/sandbox status >/dev/null 2>&1 || started=1
docker/sandbox up
echo "test: sandbox ready in $(( $(date +%s) - t0 )) s"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "test: gofmt needed on: $unformatted" >&2
  exit 1
fi
go vet ./...
# One package at a time: the end-to-end packages share one PBX and one ARI
# application name.
RECPOLICY_SANDBOX=1 go test -p 1 -race -count=1 -timeout 30m ./...
# The same end-to-end suite with the second recorder backend (ARI snoop).
RECPOLICY_SANDBOX=1 RECPOLICY_E2E_BACKEND=snoop go test -count=1 -timeout 20m ./internal/e2e/
echo "test: done in $(( $(date +%s) - t0 )) s"
