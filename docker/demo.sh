#!/usr/bin/env bash
# make demo: brings up the sandbox PBX and database (installing what is
# missing), runs the recpolicy daemon, places a handful of real calls and
# prints what was recorded and archived. KEEP=1 leaves the sandbox running.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin
command -v go >/dev/null || { echo "demo: Go is required (https://go.dev/dl/); install it and retry" >&2; exit 1; }
started=0
cleanup() {
  if [ "$started" = 1 ] && [ "${KEEP:-0}" != 1 ]; then docker/sandbox down || true; fi
}
trap cleanup EXIT INT TERM
# Always (re)start the sandbox from this checkout's configuration and
# greeting; stop it at the end only if it was not running before.
docker/sandbox status >/dev/null 2>&1 || started=1
docker/sandbox up
go build -o bin/recpolicy ./cmd/recpolicy
go run ./internal/sandbox/demo -recpolicy bin/recpolicy -out var/demo
