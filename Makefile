# Every target installs what it needs into .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BUF := tools/node_modules/.bin/buf

.PHONY: install run test node-test browser-deps lint breaking proto proto-check unasync bench chaos clean go-deps

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV) && $(BIN)/pip install -q --upgrade pip && $(BIN)/pip install -q -e '.[dev]' && touch $(STAMP)

$(BUF): tools/package.json tools/package-lock.json
	cd tools && npm install --no-audit --no-fund && touch node_modules/.bin/buf

install: $(STAMP)

run: $(STAMP)
	$(BIN)/tracking serve

# The dashboard's tests drive Debian's Chromium (Playwright cannot download its own here).
browser-deps:
	test -x /usr/bin/chromium || (apt-get update -q && apt-get install -y -q chromium)

test: $(STAMP) proto-check browser-deps
	$(BIN)/pytest && if command -v node >/dev/null; then $(MAKE) node-test; elif [ "$$CI" = "true" ]; then echo "CI=true and node not found: the Node.js client test must run"; exit 1; else echo "node not found: skipping the Node.js client test"; fi

node-test: $(STAMP)
	cd client/node && npm install --no-audit --no-fund && npm test

# The Debian packages of client/go/debian-packages.txt, at their exact versions.
go-deps:
	scripts/debian_go.sh

lint: $(STAMP) $(BUF)
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy client service tests && $(BIN)/python scripts/gen_sync_client.py --check && $(BIN)/hadolint Dockerfile && $(BUF) lint && scripts/buf_breaking.sh
	$(MAKE) proto-check

breaking: $(BUF)
	scripts/buf_breaking.sh

# buf generate (buf.gen.yaml): Python, TypeScript and Go; --check fails when the committed code differs.
proto: $(STAMP) $(BUF) go-deps
	$(BIN)/python scripts/gen_protos.py

proto-check: $(STAMP)
	if command -v npm >/dev/null; then $(MAKE) $(BUF); fi
	$(MAKE) go-deps
	$(BIN)/python scripts/gen_protos.py --check

# The blocking client is written from the asyncio one: edit async_client.py, then this.
unasync: $(STAMP)
	$(BIN)/python scripts/gen_sync_client.py

bench: $(STAMP) browser-deps
	command -v h2load >/dev/null || (apt-get update -q && apt-get install -y -q nghttp2-client)
	$(BIN)/python -m bench $(BENCH_ARGS)

# Full size: 500 watchers, 5 SIGKILLs, a PostgreSQL restart (as root, pg_ctlcluster),
# 10,000 stream open/cancel cycles; SQLite and PostgreSQL. make test runs a short version.
chaos: $(STAMP)
	TRACKING_CHAOS=full $(BIN)/pytest tests/reliability -s -p no:cacheprovider

clean:
	rm -rf $(VENV) tools/node_modules .pytest_cache .mypy_cache .ruff_cache
