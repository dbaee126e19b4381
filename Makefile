# Porthole — run `make help` for the targets.
SHELL := /bin/bash
GO ?= go
BIN := $(CURDIR)/bin
export PATH := $(BIN):$(PATH)
STATICCHECK_VERSION := v0.8.2
GOTESTSUM_VERSION := v1.13.0
FUZZTIME ?= 30s
TEST_TIMEOUT ?= 15m

.PHONY: help deps tools build test demo bench lint fuzz check clean packages load s3server

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

deps: ## install the Debian packages build, tests and demo need (idempotent)
	@./scripts/install-deps.sh

tools: ## install pinned Go tools (staticcheck, gotestsum) into ./bin
	@mkdir -p $(BIN)
	@test -x $(BIN)/staticcheck || GOBIN=$(BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	@test -x $(BIN)/gotestsum || GOBIN=$(BIN) $(GO) install gotest.tools/gotestsum@$(GOTESTSUM_VERSION)

build: ## build the three binaries into ./bin (broker and CLI without cgo)
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -o $(BIN)/ ./cmd/porthole-broker ./cmd/porthole ./cmd/porthole-testpattern
	$(GO) build -o $(BIN)/ ./cmd/porthole-agent

lint: tools ## gofmt check, go vet, staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(BIN)/staticcheck ./...

test: deps tools s3server lint ## lint, then every test with -race (fuzz seed corpora included)
	CGO_ENABLED=1 $(BIN)/gotestsum --format testname -- -race -count=1 -timeout $(TEST_TIMEOUT) ./...

AGENTS ?= 10000

load: ## opt-in: AGENTS (10000) simulated agents against one broker; memory per agent, CPU, reconnect time
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -o $(BIN)/ ./cmd/porthole-broker ./cmd/porthole-load
	$(BIN)/porthole-load --broker-bin $(BIN)/porthole-broker --agents $(AGENTS)

s3server: ## build SeaweedFS's weed (the S3 server the recording tests run) once into ~/.cache/porthole
	@./scripts/build-seaweedfs.sh >/dev/null

check: test ## alias: lint + test

fuzz: ## run every fuzz target for FUZZTIME (default 30s) each
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; done

bench: deps ## print the performance figures (capture, encode, relay, input)
	@$(MAKE) --no-print-directory build
	CGO_ENABLED=0 $(GO) build -o $(BIN)/ ./cmd/porthole-bench
	$(BIN)/porthole-bench --bin $(BIN) --sizes 1920x1080,1280x720 --modes small,full --runs 3 --duration 12s --static 10s
	$(GO) test -run '^$$' -bench . -benchtime 1s ./agent/... ./broker/... ./internal/...

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null | sed 's/^v//; s/^\([^0-9]\)/0.0~\1/' || echo 0.0~dev)

packages: deps ## build .deb packages of the broker and the agent into ./dist (systemd units, default config)
	@rm -rf $(BIN)/pkg && mkdir -p $(BIN)/pkg
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w' -o $(BIN)/pkg/ ./cmd/porthole-broker ./cmd/porthole
	$(GO) build -trimpath -buildmode=pie -ldflags='-s -w' -o $(BIN)/pkg/ ./cmd/porthole-agent
	./packaging/build-deb.sh $(VERSION) $(BIN)/pkg $(CURDIR)/dist

demo: deps build ## start broker + agent on a virtual display; prints the portal URL and login
	@./scripts/demo.sh

clean: ## remove build output and demo state
	rm -rf $(BIN) .demo dist
