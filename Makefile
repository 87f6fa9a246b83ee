# The Makefile is the contract: `make run` and `make test` work on a fresh
# Debian machine; every other target is a piece of those two or a benchmark.
GO        ?= go
# go.mod names the toolchain (a patch release with the standard library's
# security fixes); let go fetch it where the machine's default says "local".
export GOTOOLCHAIN ?= auto
BIN       := bin/filmroom
CACHE_BIN := $(CURDIR)/.cache/bin
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X github.com/filmroom/filmroom/server.Version=$(VERSION)
STATICCHECK_VERSION := v0.8.2
GOVULNCHECK_VERSION := v1.9.0
# Go test packages run with the race detector; -p 2 matches the 2-core machines.
GOTEST    := $(GO) test -race -p 2 -timeout 20m

.PHONY: fuzz all run test build frontend setup setup-test lint vet fmt-check e2e test-go test-frontend clean vulncheck npm-audit bench-fast-start \
        bench bench-media bench-captions bench-annotations bench-live bench-upload bench-web soak

all: build

setup:
	scripts/setup.sh run

setup-test:
	scripts/setup.sh test

frontend: setup
	cd frontend && npm run build
	@touch frontend/dist/.keep

build: frontend
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) .

## run: install what is missing, build, and serve on SQLite + ./data at http://localhost:8080
run: build
	./$(BIN) serve

## test: install what is missing, then every test suite (Go with -race, web app unit tests, Chromium end to end)
test: setup-test fmt-check vet
	$(MAKE) build
	$(GOTEST) ./...
	$(MAKE) fuzz
	cd frontend && npm test
	$(MAKE) e2e

# fuzz: every fuzz target for a few seconds (the seed corpora also run in
# every plain `go test`); FUZZTIME=1m for a longer search.
FUZZTIME ?= 5s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeClientMessage$$' -fuzztime $(FUZZTIME) ./annotations/live
	$(GO) test -run '^$$' -fuzz '^FuzzParseVTT$$' -fuzztime $(FUZZTIME) ./media/captions
	$(GO) test -run '^$$' -fuzz '^FuzzParseSRT$$' -fuzztime $(FUZZTIME) ./media/captions
	$(GO) test -run '^$$' -fuzz '^FuzzBuildCues$$' -fuzztime $(FUZZTIME) ./media/captions

test-go:
	$(GOTEST) ./...

test-frontend:
	cd frontend && npm test

e2e:
	cd frontend && FILMROOM_BIN=$(CURDIR)/$(BIN) npm run e2e

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './frontend/node_modules/*')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

$(CACHE_BIN)/staticcheck:
	GOBIN=$(CACHE_BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

$(CACHE_BIN)/govulncheck:
	GOBIN=$(CACHE_BIN) $(GO) install golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION)

## lint: gofmt, vet, staticcheck, svelte-check, and known vulnerabilities in
## what the code calls (govulncheck) and in the web app's runtime packages
lint: setup-test fmt-check vet $(CACHE_BIN)/staticcheck vulncheck npm-audit
	$(CACHE_BIN)/staticcheck ./...
	cd frontend && npm run check

vulncheck: $(CACHE_BIN)/govulncheck
	$(GO) run ./scripts/vulncheck -govulncheck $(CACHE_BIN)/govulncheck

npm-audit:
	scripts/npm-audit.sh

bench: bench-media bench-upload bench-captions bench-annotations bench-live bench-web

bench-media:
	$(GO) run ./scripts/benchmedia -runs 3 -cores

bench-upload:
	$(GO) run ./scripts/benchupload -size 1GiB

bench-captions:
	scripts/setup.sh bench
	$(GO) run ./scripts/benchcaptions -minutes 10

bench-annotations:
	$(GO) run ./scripts/benchannotations

bench-live:
	$(GO) run ./scripts/benchlive -scenario all -duration 10s

# soak: a real server under mixed load for SOAK_DURATION with one restart
# halfway, then checks that nothing acknowledged was lost (not in `make test`;
# see docs/security.md). SOAK_ARGS adds driver flags, e.g.
# SOAK_ARGS='-db postgres://postgres@127.0.0.1:5432/postgres -server-arg=--workers=2'.
SOAK_DURATION ?= 10m
SOAK_ARGS ?=
# The write limits are off: the soak measures the system under load, not the
# limits (about 30 annotations a second from seven users).
soak: build
	$(GO) run ./scripts/soak -bin $(BIN) -duration $(SOAK_DURATION) -server-arg=--write-rate-user=off -server-arg=--write-rate-address=off $(SOAK_ARGS)

# The web benchmark seeds 2,000 annotations through the API as fast as it
# can: the write limits are off there, they would measure themselves.
# bench-fast-start: time to playable (API and headless Chromium) and to the
# full ladder for H.264, HEVC and VP9 inputs, against bare ffmpeg
# (FASTSTART_MINUTES, FASTSTART_LADDER_MAX: see the script); then the
# chunked ladder with 1, 2 and 4 worker processes against the bare single
# ladder encode (LADDER_MINUTES, LADDER_CHUNK, LADDER_WORKERS; needs the
# PostgreSQL of the tests).
LADDER_MINUTES ?= 10
LADDER_CHUNK ?= 60s
LADDER_WORKERS ?= 1,2,4
bench-fast-start: build
	cd frontend && FILMROOM_BIN=$(CURDIR)/$(BIN) node e2e/perf/faststart-bench.mjs
	go run ./scripts/benchladder -bin $(BIN) -minutes $(LADDER_MINUTES) -chunk $(LADDER_CHUNK) -workers $(LADDER_WORKERS)

bench-web: build
	cd frontend && FILMROOM_BIN=$(CURDIR)/$(BIN) FILMROOM_WRITE_RATE_USER=off FILMROOM_WRITE_RATE_ADDRESS=off npm run bench

clean:
	rm -rf bin frontend/test-results
	find frontend/dist -mindepth 1 -not -name .keep -delete 2>/dev/null || true
