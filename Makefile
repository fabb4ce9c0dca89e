# Every target installs what it needs into .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Most tests wait on servers, databases and browsers: three workers keep two cores busy.
TEST_WORKERS ?= 3
BUF := tools/node_modules/.bin/buf
TS := client/ts
TS_STAMP := $(TS)/node_modules/.installed
# Under CI=true a missing tool fails the run; elsewhere its part is skipped, saying why.
NEED = if [ "$$CI" = "true" ]; then echo "CI=true and $(1) not found: $(2) must run"; exit 1; else echo "$(1) not found: skipping $(2)"; fi

.PHONY: vendor install run test node-test ts-test ts-typecheck browser-deps nginx-deps malloc-deps go-deps go-test go-lint lint breaking proto proto-check unasync bench callgrind chaos clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV) && $(BIN)/pip install -q --upgrade pip && $(BIN)/pip install -q -e '.[dev]' && touch $(STAMP)

$(BUF): tools/package.json tools/package-lock.json
	cd tools && npm install --no-audit --no-fund && touch node_modules/.bin/buf

$(TS_STAMP): $(TS)/package.json $(TS)/package-lock.json
	cd $(TS) && npm install --no-audit --no-fund && touch node_modules/.installed

install: $(STAMP)

run: $(STAMP)
	$(BIN)/tracking serve

# The dashboard's tests drive Debian's Chromium (Playwright cannot download its own here).
browser-deps:
	test -x /usr/bin/chromium || (apt-get update -q && apt-get install -y -q chromium)

# The fleet tests run Debian's nginx unprivileged, with deploy/nginx/nginx.conf.
nginx-deps:
	test -x /usr/sbin/nginx || (apt-get update -q && apt-get install -y -q nginx)

# The server's memory is measured as the image runs it: with jemalloc (Dockerfile).
malloc-deps:
	ldconfig -p | grep -q libjemalloc.so.2 || (apt-get update -q && apt-get install -y -q libjemalloc2)

test: $(STAMP) proto-check browser-deps nginx-deps go-deps malloc-deps
	$(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal
	if command -v node >/dev/null; then $(MAKE) ts-test; else $(call NEED,node,the TypeScript client's tests); fi
	if command -v go >/dev/null; then $(MAKE) go-test; else $(call NEED,go,the Go client's tests); fi

# The TypeScript client's tests (node --test), against `tracking serve` processes they start.
ts-test: $(STAMP) $(TS_STAMP)
	cd $(TS) && TRACKING_BIN=$(CURDIR)/$(BIN)/tracking npm test

node-test: ts-test

ts-typecheck: $(TS_STAMP)
	cd $(TS) && npm run typecheck

# The Debian packages of client/go/debian-packages.txt, at their exact versions.
go-deps:
	scripts/debian_go.sh

# The Go client's tests (go test, offline: GOPATH mode over Debian's Go sources).
go-test: $(STAMP) go-deps
	TRACKING_BIN=$(CURDIR)/$(BIN)/tracking client/go/gopath.sh test -count=1 -v ./...

go-lint: go-deps
	test -z "$$(gofmt -l client/go)" || { echo "gofmt would change:"; gofmt -l client/go; exit 1; }
	client/go/gopath.sh vet ./...

lint: $(STAMP) $(BUF)
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy client service tests bench && $(BIN)/lint-imports --no-cache && $(BIN)/python scripts/gen_sync_client.py --check && $(BIN)/hadolint Dockerfile && $(BUF) lint && scripts/buf_breaking.sh
	$(BIN)/check-jsonschema --builtin-schema vendor.compose-spec deploy/compose.yaml
	$(BIN)/kubernetes-validate --strict --quiet --kubernetes-version 1.29.0 deploy/kubernetes/*.yaml
	$(MAKE) proto-check
	$(BIN)/python scripts/vendor_uplot.py --check
	if command -v node >/dev/null; then $(MAKE) ts-typecheck; else $(call NEED,node,tsc --noEmit); fi
	if command -v go >/dev/null; then $(MAKE) go-lint; else $(call NEED,go,gofmt and go vet); fi

breaking: $(BUF)
	scripts/buf_breaking.sh

# buf generate (buf.gen.yaml): Python, TypeScript and Go; --check fails when the committed code differs.
proto: $(STAMP) $(BUF) go-deps
	$(BIN)/python scripts/gen_protos.py

proto-check: $(STAMP)
	if command -v npm >/dev/null; then $(MAKE) $(BUF); fi
	$(MAKE) go-deps
	$(BIN)/python scripts/gen_protos.py --check

# The dashboard's uPlot, copied from the npm package pinned in tools/package.json.
vendor: $(BUF)
	$(BIN)/python scripts/vendor_uplot.py

# The blocking client is written from the asyncio one: edit async_client.py, then this.
unasync: $(STAMP)
	$(BIN)/python scripts/gen_sync_client.py

bench: $(STAMP) browser-deps
	command -v h2load >/dev/null || (apt-get update -q && apt-get install -y -q nghttp2-client)
	$(BIN)/python -m bench $(BENCH_ARGS)

# Instructions per call in the server, counted by valgrind (docs/benchmarks.md).
callgrind: $(STAMP)
	command -v valgrind >/dev/null || (apt-get update -q && apt-get install -y -q valgrind)
	$(BIN)/python -m bench.callgrind $(CALLGRIND_ARGS)

# Full size: 500 watchers, 5 SIGKILLs, a PostgreSQL restart (as root, pg_ctlcluster),
# 10,000 stream open/cancel cycles; SQLite and PostgreSQL. make test runs a short version.
chaos: $(STAMP) nginx-deps malloc-deps
	TRACKING_CHAOS=full $(BIN)/pytest tests/reliability -s -p no:cacheprovider

clean:
	rm -rf $(VENV) tools/node_modules $(TS)/node_modules $(TS)/dist .pytest_cache .mypy_cache .ruff_cache
