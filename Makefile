# microdnb: build the book, run every test.
#   make book   build the HTML book into _build/html (creates/reuses .venv, vendors the JS)
#   make check  the fast tier, while editing: unit, property and engine-equality tests (no
#               browser, no chapter, no book build), in parallel, within a minute
#   make test   everything: the site from the stored outputs, then one parallel pytest of
#               tests/ (browser and site tests included) and of every chapter under nbval
#   make site   the book from the chapters' stored outputs, executing none (what make test checks)
#   make lab    open the chapters in JupyterLab, with the .venv kernel
#   make lock   re-resolve requirements.lock after editing requirements.txt (UPGRADE=1: newest versions)
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
.DEFAULT_GOAL := book

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
VENDOR_STATIC := _vendor/static
VENDOR_STAMP  := $(VENDOR_STATIC)/.vendored
# The browser the site test drives (tests/test_site.py reads MICRODNB_CHROMIUM too).
MICRODNB_CHROMIUM ?= /usr/bin/chromium
CHROMIUM := $(MICRODNB_CHROMIUM)
export MICRODNB_CHROMIUM
# What .venv is installed from: the exact lock (CPython 3.11 on Linux), or, for another
# Python, `make book REQS=requirements.txt` (the ranges the lock was resolved from).
REQS ?= requirements.lock
# pytest-xdist workers for `make check` and `make test` (auto: one per CPU; JOBS=0 runs in
# one process). They inherit the environment below, and so do nbval's kernels.
JOBS ?= auto

# Same environment for the book build, pytest and nbval.
export MPLBACKEND := Agg
export PYTHONHASHSEED := 0
# The same floating-point code on every x86-64 machine, so the stored outputs (every digit
# nbval compares) do not depend on the CPU: numpy's AVX-512 loops (exp, log, sums) and
# OpenBLAS's per-CPU kernels round differently from the AVX2 ones. Pinned to what any
# AVX2 machine runs: numpy's AVX2 dispatch (AVX-512 off) and OpenBLAS's Haswell kernel,
# one thread. (tests/conftest.py sets the same for a pytest started by hand.)
export NPY_DISABLE_CPU_FEATURES := X86_V4 AVX512_ICL AVX512_SPR
export OPENBLAS_CORETYPE := Haswell
export OPENBLAS_NUM_THREADS := 1
# Prefer the kernelspec inside .venv over any user-level one.
export JUPYTER_PREFER_ENV_PATH := 1
# Let Python keep bytecode, and pytest its assertion-rewritten test modules, in __pycache__
# (ignored by git): with PYTHONDONTWRITEBYTECODE set, as on some CI machines, every pytest
# process (and each xdist worker) recompiles every test module, seconds of CPU each time.
unexport PYTHONDONTWRITEBYTECODE
ifdef MICRODNB_NAMES
export MICRODNB_NAMES
endif

.PHONY: venv vendor check-data book site check test browser-deps execute lab lock clean distclean

# ---- Python environment: reinstalled only when the lock (or pyproject.toml) changes ----
# Exact versions from requirements.lock, so every build uses the environment the book was
# tested with; the stamp records which file was installed (tests/test_lock.py reads it).
venv: $(STAMP)
$(STAMP): $(REQS) pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -r $(REQS) -e .
	# Kernel "python3" inside the venv (--sys-prefix), so notebooks run with .venv's python.
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (microdnb)"
	$(VENV)/bin/jupyter kernelspec list
	echo $(REQS) > $@

# ---- requirements.lock: every package at one exact version, resolved for CPython 3.11 on
# Linux from requirements.txt and pyproject.toml by uv (installed into a throw-away venv).
# Existing pins are kept where they still satisfy the ranges; UPGRADE=1 takes the newest.
lock:
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  $(PYTHON) -m venv "$$tmp" && "$$tmp/bin/python" -m pip install -q uv && \
	  "$$tmp/bin/uv" pip compile requirements.txt pyproject.toml --python-version 3.11 \
	    --python-platform linux --custom-compile-command "make lock" \
	    $(if $(UPGRADE),--upgrade) --quiet -o requirements.lock

# ---- Browser-side JS, vendored so no page loads from a CDN ----
# Runs only when one of its inputs changes (the stamp is _vendor/static/.vendored). It
# needs the npm packages of _vendor/package-lock.json: from the npm registry the first
# time, afterwards from npm's cache (~/.npm/_cacache), which --prefer-offline uses
# without asking the registry, so a machine that vendored once can vendor offline.
vendor: $(VENDOR_STAMP)
$(VENDOR_STAMP): _vendor/package.json _vendor/package-lock.json _vendor/require-config.js _vendor/mathjax-hub-shim.js
	cd _vendor && npm ci --prefer-offline --no-audit --no-fund --ignore-scripts
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
	# axe-core is for the tests only (tests/test_site.py injects it into every page to check
	# WCAG 2.1 AA); it stays in node_modules and is not copied into the site.
	test -s _vendor/node_modules/axe-core/axe.min.js
	touch $@

# ---- The names dataset: shipped in the package (microdnb/assets/names.txt), or
# $MICRODNB_NAMES. Checked (SHA-256, content) before anything is built: a missing or
# corrupt file stops the build here with one line that names the file.
check-data: venv
	@$(PY) -c 'import sys, microdnb.data as d; sys.exit(d.main())'

# ---- The book: from clean, warnings are errors (a failing notebook fails the build) ----
book: venv check-data vendor
	rm -rf _build
	$(VENV)/bin/jupyter-book build . -W -n --keep-going

# ---- The book from the chapters' stored outputs, for `make test`: the same build as
# `make book` (from clean, -W -n) with execution off, so no chapter runs here; `make test`'s
# nbval executes each chapter once and fails on any output that differs from the stored one
# (figures included: they are <img> tags in text/html), so this is the site `make book`
# builds, up to what tests/nbval_sanitize.cfg masks (timings, widget ids).
STORED_CONFIG := _build/_config.stored-outputs.yml
site: venv check-data vendor
	rm -rf _build && mkdir -p _build
	$(PY) -c 'import sys, yaml; c = yaml.safe_load(open("_config.yml")); \
	  assert c["execute"]["execute_notebooks"] == "force", c["execute"]; \
	  c["execute"]["execute_notebooks"] = "off"; yaml.safe_dump(c, sys.stdout, sort_keys=False)' > $(STORED_CONFIG)
	$(VENV)/bin/jupyter-book build . -W -n --keep-going --config $(STORED_CONFIG)

# ---- Tests ----
# The tiers are marks (pyproject.toml): `make check` runs every test that has none of
# these, `make test` everything.
CHECK_MARKS := not (slow or browser or site or chapter or reference)
check: venv
	$(PY) -m pytest tests -n $(JOBS) -m "$(CHECK_MARKS)" -p no:nbval

browser-deps:
	test -x $(CHROMIUM) || (apt-get update && apt-get install -y chromium)

# One parallel pytest run: the chapters under nbval (stored outputs must match a fresh
# run, modulo tests/nbval_sanitize.cfg) and tests/ (unit, property, fidelity, browser, the
# site built above), spread over JOBS workers: each chapter, each page of the site and each
# test file stays on one worker (tests/conftest.py's xdist groups). Then, with the machine to
# itself, the few tests marked `alone` (wall-time checks: the trainer's main-thread tasks).
test: site browser-deps
	$(PY) -m pytest book tests -n $(JOBS) --dist loadgroup --no-loadscope-reorder -m "not alone" \
	  --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg -p tests.nbval_store_history \
	  --durations=25
	$(PY) -m pytest tests -m alone -p no:nbval -n 0

# Re-execute chapters in place, storing their outputs (what nbval then checks):
#   make execute NB="book/03_gpt.ipynb book/04_training.ipynb"   (default: every chapter)
NB ?= $(wildcard book/*.ipynb)
execute: venv
	for nb in $(NB); do \
	  echo "executing $$nb"; \
	  $(VENV)/bin/jupyter nbconvert --to notebook --execute --inplace \
	    --ExecutePreprocessor.timeout=120 --ExecutePreprocessor.kernel_name=python3 "$$nb"; \
	done

lab: venv
	cd book && ../$(VENV)/bin/jupyter lab

clean:
	rm -rf _build $(VENDOR_STATIC) _vendor/node_modules .pytest_cache .hypothesis *.egg-info
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
