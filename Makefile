PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PLAYGROUND := .playground/node_modules/.installed
AZURITE := .azurite/node_modules/.installed
CHECKOV := .checkov-venv/.installed
GALLERY := .gallery/node_modules/.installed

# pytest-xdist workers: most tests wait on a bot, a sandbox or a channel, so more workers than
# cores keep both cores busy (`make test WORKERS=1` runs one after another).
WORKERS ?= 4

.PHONY: run test test-fast lint bench package catalog gallery clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'
	$(BIN)/python -m sandbox.base_model
	touch $@

$(PLAYGROUND): .playground/package.json
	npm install --prefix .playground --no-audit --no-fund --loglevel=error
	touch $@

$(AZURITE): .azurite/package.json
	npm install --prefix .azurite --no-audit --no-fund --loglevel=error
	touch $@

$(GALLERY): .gallery/package.json
	npm install --prefix .gallery --no-audit --no-fund --loglevel=error
	touch $@

# checkov in a virtual environment of its own: its pins cannot clash with ours
# (tests/test_deploy_bicep.py runs it on deploy/, offline).
$(CHECKOV): deploy/checkov-requirements.txt
	$(PYTHON) -m venv .checkov-venv
	.checkov-venv/bin/pip install -q --disable-pip-version-check -r deploy/checkov-requirements.txt
	touch $@

run: $(STAMP)
	$(BIN)/ftbot run

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint $(PLAYGROUND) $(AZURITE) $(CHECKOV)
	tools/in-netns $(BIN)/pytest -q -n $(WORKERS)

# Every module's own tests, without ruff and mypy, the e2e flows and the slow ones (see
# pyproject.toml's markers): under a minute.
test-fast: $(STAMP) $(AZURITE) $(CHECKOV)
	tools/in-netns $(BIN)/pytest -q -n $(WORKERS) -m "not e2e and not slow"

catalog: $(STAMP)
	$(BIN)/python -m tools.catalogs

package: $(STAMP)
	$(BIN)/ftbot package --out build/appPackage.zip

# Every card as Teams draws it (English and Korean, light and dark, 560 and 360 px) with
# Microsoft's renderer in headless chromium: build/gallery/index.html (tools/gallery.py). Debian's
# chromium and the fonts (tools/gallery.js) are installed when absent.
GALLERY_DEBS := chromium fonts-liberation fonts-noto-cjk fonts-noto-color-emoji
gallery: $(STAMP) $(GALLERY)
	@dpkg -s $(GALLERY_DEBS) >/dev/null 2>&1 || \
		(apt-get update -q && apt-get install -y -q --no-install-recommends $(GALLERY_DEBS))
	tools/in-netns $(BIN)/python -m tools.gallery

bench: $(STAMP) $(AZURITE)
	tools/in-netns $(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .checkov-venv .playground/node_modules .azurite/node_modules .gallery/node_modules \
		.ftbot build
