# Two commands do all set-up on a fresh Debian/Ubuntu machine:
#   make run   - start the chat application with embedded defaults (SQLite, memory engine)
#   make test  - run the whole test suite
PY := .venv/bin/python
PORT ?= 8000

.PHONY: bootstrap run test conformance bench lint typecheck check

bootstrap:
	./scripts/bootstrap.sh

run: bootstrap
	CHAT_PORT=$(PORT) $(PY) scripts/run_chat.py

test: bootstrap
	$(PY) -m pytest -q -p no:cacheprovider

# centripetal against Centrifugo v6.9.1 (built with go install into ~/.cache on first use;
# without Go the tests are skipped, or fail under CI=true)
conformance: bootstrap
	CENTRIPETAL_CONFORMANCE=1 $(PY) -m pytest -q -p no:cacheprovider tests/differential

bench: bootstrap
	$(PY) -m bench $(BENCH_ARGS)

lint:
	.venv/bin/ruff check src tests
	.venv/bin/ruff format --check src tests

typecheck:
	.venv/bin/mypy

check: lint typecheck test
