# The README's two commands: `make demo` and `make test`. Each sets itself up on a fresh
# machine: a .venv is created when missing and the package installed into it.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# CPU CI pins the local CPU wheel: a bare `torch` requirement resolves to a multi-GB CUDA
# build. On a GPU machine, run `make TORCH_SPEC= ...` to keep the torch already installed.
TORCH_SPEC ?= torch==2.13.0
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest install browser clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(if $(TORCH_SPEC),$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)")
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/uprior demo --out runs/demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

# The HTML report's test opens it in Debian's headless Chromium; install it when missing
# and we may (root, as in CI). Elsewhere the test says what to install.
browser:
	@command -v chromium >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

pytest: $(STAMP) browser
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q

test: lint typecheck pytest

clean:
	rm -rf $(VENV) runs .pytest_cache .mypy_cache .ruff_cache
