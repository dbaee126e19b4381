# Porthole — run `make help` for the targets.
SHELL := /bin/bash
GO ?= go
BIN := $(CURDIR)/bin
export PATH := $(BIN):$(PATH)
STATICCHECK_VERSION := v0.8.2
GOTESTSUM_VERSION := v1.13.0
FUZZTIME ?= 30s
TEST_TIMEOUT ?= 25m

.PHONY: help deps tools build test demo bench lint fuzz check clean \
	libvpx-windows wine-exec agent-windows test-windows packages load s3server

# Windows: cross-builds with mingw and the static win64 libvpx that
# scripts/build-libvpx-windows.sh makes once per version into a cache outside
# the clone (it prints the directory; instant when cached). WINDOWS_ENV is for
# recipes: it runs the script in the recipe's shell.
WINDOWS_ENV = GOOS=windows GOARCH=amd64 CGO_ENABLED=1 \
	CC=x86_64-w64-mingw32-gcc CXX=x86_64-w64-mingw32-g++ PKG_CONFIG_PATH= \
	PKG_CONFIG_LIBDIR="$$(./scripts/build-libvpx-windows.sh)/lib/pkgconfig"
# Static link: the exe needs no mingw or libvpx DLLs.
WINDOWS_LDFLAGS := -ldflags=-extldflags=-static
# Packages whose tests also run as Windows programs under Wine (make
# test-windows); add yours when it has Windows code.
WINDOWS_TEST_PKGS ?= ./agent/encode ./agent/capture ./agent/input ./agent/accounts ./agent/elevation ./agent/winlocal/... ./internal/durable \
	./agent/localsock ./agent/inventory ./agent/winservice ./agent/helper

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

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
	@# the agent's Windows and macOS files (cgo off until their libvpx builds exist)
	@set -e; for os in windows darwin; do echo "GOOS=$$os vet + staticcheck of the agent"; \
	  GOOS=$$os CGO_ENABLED=0 $(GO) vet ./agent/... ./cmd/porthole-agent; \
	  GOOS=$$os CGO_ENABLED=0 $(BIN)/staticcheck ./agent/... ./cmd/porthole-agent; done

test: deps tools s3server lint ## lint, then every test with -race (fuzz seed corpora included), then test-windows
	@status=0; \
	CGO_ENABLED=1 $(BIN)/gotestsum --format testname -- -race -count=1 -timeout $(TEST_TIMEOUT) ./... || status=$$?; \
	$(MAKE) --no-print-directory test-windows || status=$$?; \
	exit $$status

libvpx-windows: deps ## build the static win64 libvpx into the cache (~1-3 min once per version; then instant)
	@./scripts/build-libvpx-windows.sh

wine-exec: ## build bin/porthole-wine-exec (runs Windows programs and go test -exec under Wine)
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -o $(BIN)/ ./cmd/porthole-wine-exec

agent-windows: libvpx-windows wine-exec ## cross-build bin/porthole-agent.exe (static, needs only Windows' own DLLs)
	$(WINDOWS_ENV) $(GO) build $(WINDOWS_LDFLAGS) -o $(BIN)/porthole-agent.exe ./cmd/porthole-agent
	$(BIN)/porthole-wine-exec -check $(BIN)/porthole-agent.exe

test-windows: deps tools libvpx-windows wine-exec ## run WINDOWS_TEST_PKGS' tests as Windows programs under Wine on Xvfb
	ov=$$($(BIN)/porthole-wine-exec -overlay) && $(WINDOWS_ENV) \
	  $(BIN)/gotestsum --format testname -- -race -count=1 -timeout $(TEST_TIMEOUT) $(WINDOWS_LDFLAGS) \
	  -overlay "$$ov" -exec $(BIN)/porthole-wine-exec $(WINDOWS_TEST_PKGS)

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

bench: deps libvpx-windows ## print the performance figures (capture, encode, relay, input), the Windows agent under Wine beside Linux's
	@$(MAKE) --no-print-directory build
	CGO_ENABLED=0 $(GO) build -o $(BIN)/ ./cmd/porthole-bench
	$(BIN)/porthole-bench --bin $(BIN) --sizes 1920x1080,1280x720 --modes small,full --runs 3 --duration 12s --static 10s --windows --windows-runs 2
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
