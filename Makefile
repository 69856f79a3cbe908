PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PLAYGROUND := .playground/node_modules/.installed

.PHONY: run test lint bench package clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'
	$(BIN)/python -m infra.sandbox.base_model
	touch $@

$(PLAYGROUND): .playground/package.json
	npm install --prefix .playground --no-audit --no-fund --loglevel=error
	touch $@

run: $(STAMP)
	$(BIN)/ftbot run

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint $(PLAYGROUND)
	tools/in-netns $(BIN)/pytest -q

package: $(STAMP)
	$(BIN)/ftbot package --out build/appPackage.zip

bench: $(STAMP)
	tools/in-netns $(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .playground/node_modules .ftbot build
