# recpolicy — see README.md.
#   make demo   sandbox PBX + database + daemon + a few real calls, and what was recorded
#   make test   every test, sandbox included (starts and stops what it needs)
SHELL := /bin/bash
GO ?= go

.PHONY: all build deb test demo unit lint bench load sandbox-up sandbox-down

all: build

build:
	$(GO) build -o bin/recpolicy ./cmd/recpolicy

# The Debian package: dist/recpolicy_<version>_amd64.deb (README "Debian package").
deb:
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/recpolicy ./cmd/recpolicy
	internal/packaging/build-deb bin/recpolicy dist

test:
	bash docker/test.sh

demo:
	bash docker/demo.sh

# Tests that need no sandbox.
unit:
	$(GO) test -race ./ami/... ./rules/... ./internal/config/... ./internal/engine/... ./internal/access/...

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./ami/

# The burst, restart and long profiles, 5 runs in a row, with each recorder
# backend; LOAD_FLAGS adds flags (e.g. LOAD_FLAGS="-ami-delay 20ms").
# Both backends run even when the first misses a target; make fails after.
load:
	@rc=0; \
	$(GO) run ./internal/sandbox/load -runs 5 -backend mixmonitor -out var/load-mixmonitor $(LOAD_FLAGS) || rc=1; \
	$(GO) run ./internal/sandbox/load -runs 5 -backend snoop -out var/load-snoop $(LOAD_FLAGS) || rc=1; \
	exit $$rc

sandbox-up:
	docker/sandbox up

sandbox-down:
	docker/sandbox down
