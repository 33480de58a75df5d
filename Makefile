# The two commands a newcomer needs:
#   make run   - the whole system locally: broker, redis-server, sandbox tools, all services,
#                a scripted round trip; Ctrl-C stops everything.
#   make test  - lint, type-check and the whole test suite on real parts.
VENV ?= .venv
BIN := $(VENV)/bin
# pytest-xdist workers for `make test` (each runs whole test modules; 0 = in this process)
TEST_WORKERS ?= 2

.PHONY: run test bootstrap lint bench console-screenshots

bootstrap:
	@./scripts/bootstrap.sh

run: bootstrap
	@$(BIN)/im dev up

lint: bootstrap
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile

bench: bootstrap
	$(BIN)/python -m bench.ingress_publish
	$(BIN)/python -m bench.reconcile
	$(BIN)/python -m bench.propagation

# The web console's screenshots in docs/console, taken by its browser tests on the real stack.
console-screenshots: bootstrap
	CONSOLE_SCREENSHOTS_DIR=docs/console $(BIN)/pytest -q -p no:cacheprovider \
		tests/integration/console/test_console_browser.py
