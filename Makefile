# microdnb: build the book, run every test.
#   make book   build the HTML book into _build/html (creates/reuses .venv, vendors the JS)
#   make test   book + unit/property/fidelity tests + browser test + nbval
#   make lab    open the chapters in JupyterLab, with the .venv kernel
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
.DEFAULT_GOAL := book

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
VENDOR_STATIC := _vendor/static
VENDOR_STAMP  := $(VENDOR_STATIC)/.vendored
CHROMIUM := /usr/bin/chromium

# Same environment for the book build, pytest and nbval.
export MPLBACKEND := Agg
export PYTHONHASHSEED := 0
# Prefer the kernelspec inside .venv over any user-level one.
export JUPYTER_PREFER_ENV_PATH := 1
ifdef MICRODNB_NAMES
export MICRODNB_NAMES
endif

.PHONY: venv vendor book test browser-deps lab clean distclean

# ---- Python environment: reinstalled only when the requirements change ----
venv: $(STAMP)
$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -r requirements.txt -e .
	# Kernel "python3" inside the venv (--sys-prefix), so notebooks run with .venv's python.
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (microdnb)"
	$(VENV)/bin/jupyter kernelspec list
	touch $@

# ---- Browser-side JS, vendored so no page loads from a CDN ----
vendor: $(VENDOR_STAMP)
$(VENDOR_STAMP): _vendor/package.json _vendor/package-lock.json _vendor/require-config.js _vendor/mathjax-hub-shim.js
	cd _vendor && npm ci --no-audit --no-fund --ignore-scripts
	rm -rf $(VENDOR_STATIC) && mkdir -p $(VENDOR_STATIC)/html-manager/dist $(VENDOR_STATIC)/mathjax
	cp _vendor/node_modules/requirejs/require.js $(VENDOR_STATIC)/
	cp _vendor/require-config.js _vendor/mathjax-hub-shim.js $(VENDOR_STATIC)/
	# embed-amd.js loads libembed-amd.js, which loads the icon fonts next to it.
	cd _vendor/node_modules/@jupyter-widgets/html-manager/dist && \
	  cp embed-amd.js libembed-amd.js *.woff *.woff2 *.ttf *.eot *.svg ../../../../static/html-manager/dist/
	# MathJax 3: the combined component plus what it loads lazily (fonts, extensions, menu, a11y).
	cd _vendor/node_modules/mathjax/es5 && \
	  cp -r tex-mml-chtml.js input output a11y ui sre adaptors ../../../static/mathjax/ && \
	  rm -rf ../../../static/mathjax/output/svg
	touch $@

# ---- The book: from clean, warnings are errors (a failing notebook fails the build) ----
book: venv vendor
	rm -rf _build
	$(VENV)/bin/jupyter-book build . -W -n --keep-going

# ---- Everything ----
browser-deps:
	test -x $(CHROMIUM) || (apt-get update && apt-get install -y chromium)

# One pytest run, one summary: tests/ (unit, property, fidelity, site) then the chapters
# under nbval (stored outputs must match a fresh run, modulo tests/nbval_sanitize.cfg).
test: book browser-deps
	$(PY) -m pytest tests book --nbval --nbval-current-env \
	  --nbval-sanitize-with tests/nbval_sanitize.cfg -p tests.nbval_store_history

lab: venv
	cd book && ../$(VENV)/bin/jupyter lab

clean:
	rm -rf _build $(VENDOR_STATIC) _vendor/node_modules .pytest_cache .hypothesis *.egg-info
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
