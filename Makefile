# nnlib course — every target bootstraps .venv itself, from nothing but python3 and make.
#   make lab          JupyterLab on the course (IP=127.0.0.1 PORT=8888 by default)
#   make test         the whole suite: ruff, unit (on the fast kernels and on the reference layers), gradient
#                     checks, torch cross-checks, course integrity, nbval
#   make test-floors  ruff, unit tests and nbval on solutions in .venv-floors, at the lowest versions pyproject admits
#   make test-browser every lesson run in JupyterLab in headless chromium (needs Debian's chromium package)
#   make notebooks    solutions -> lessons, pairs synced, solutions re-executed (FORCE=1 overwrites edited lessons,
#                     TIMINGS=1 re-measures the cells tagged "timing")
#   make html         offline static sites (needs npm at build time): build/html/ the learners' (lessons executed,
#                     exercises stubbed), build/html-instructor/ the executed solutions
#   make pretrained   retrain lesson 09's source CNN (digits 0–4) and rewrite nnlib/pretrained/digits_cnn_0_4.npz
#   make bench        nnlib vs PyTorch CPU, 1 and 2 threads, written to benchmarks/RESULTS.md (installs torch's CPU build)
#   make nbgrader     the course as an nbgrader course folder in build/nbgrader/ (see the README's "Grading")
#   make test-grading nbgrader itself generates, autogrades and exports two lessons (GRADING_VENV=.venv-grading)
#   make test-install the README's quick start from a clean clone, and the built wheel in a fresh venv
#   make hub          JupyterHub for a class on 127.0.0.1:8000 (HUB_PORT=...; the README's "A class on one JupyterHub");
#                     make hub-release / hub-grade LESSON=03_backpropagation_by_hand: nbgrader's exchange on that hub
#   make test-hub     10 learners run lesson 03 at once on that hub, a kernel killed, 3 submissions autograded

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
IP     ?= 127.0.0.1
PORT   ?= 8888
FORCE  ?=
PYTEST_WORKERS ?= 2
FLOORS := .venv-floors
# JupyterLab refuses to run as root unless told to (containers, CI images).
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)
SOLUTIONS := $(wildcard solutions/[0-9][0-9]_*.py)

.PHONY: help lab test test-floors test-browser lint unit unit-reference nbval nbval-solutions notebooks html pretrained bench venv-course venv-test \
	venv-floors clean

help:
	@sed -n '2,18p' Makefile

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Stamps: reinstall only when pyproject.toml changes.
$(VENV)/.course-installed: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[course]"
	@touch $@

$(VENV)/.test-installed: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[course,test]"
	@touch $@ $(VENV)/.course-installed

venv-course: $(VENV)/.course-installed
venv-test: $(VENV)/.test-installed

# No "get notified about Jupyter news?" popup: JupyterLab's documented switch, written into the venv (sys_prefix).
$(VENV)/.lab-quiet: | $(VENV)/.course-installed
	$(VENV)/bin/jupyter labextension disable --level=sys_prefix "@jupyterlab/apputils-extension:announcements"
	@touch $@

lab: venv-course $(VENV)/.lab-quiet
	$(VENV)/bin/jupyter lab --ip=$(IP) --port=$(PORT) --ServerApp.root_dir="$(CURDIR)" \
		--LabApp.default_url=/lab/tree/lessons $(ALLOW_ROOT)

test: lint unit unit-reference nbval

lint: venv-test
	$(VENV)/bin/ruff check .

unit: venv-test
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadgroup --ignore=tests/browser --ignore=tests/grading \
		--ignore=tests/install --ignore=tests/hub tests

# The tests of nnlib's numerics again on the reference layers (nnlib.use_fast_kernels(False)); the conv, recurrent and
# optimizer tests run both roads already (their kernel_path fixture). NNLIB_FAST_KERNELS=0 works with any pytest run.
REFERENCE_TESTS := $(addprefix tests/test_,layers.py properties.py attention.py dropout.py freezing.py functional.py \
	gradcheck.py module.py reuse.py sequences.py training.py transfer.py losses.py regularization.py \
	backprop_worked_example.py)
unit-reference: venv-test
	NNLIB_FAST_KERNELS=0 $(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadgroup -p no:cacheprovider $(REFERENCE_TESTS)

# The floors: uv's lowest-direct resolution puts every direct dependency at its lowest admitted version (the rest
# at the newest that fit), always in a venv built afresh, so a lowered bound is really tested. The stamps make
# `make VENV=$(FLOORS) ...` (unit, nbval, lab) use this venv as it is instead of pip-installing the newest releases.
$(VENV)/.uv-installed: | $(PY)
	$(PY) -m pip install --quiet uv
	@touch $@

$(FLOORS)/.floors-installed: pyproject.toml $(VENV)/.uv-installed
	rm -rf $(FLOORS) && $(PYTHON) -m venv $(FLOORS)
	$(VENV)/bin/uv pip install --quiet --python $(FLOORS)/bin/python --resolution lowest-direct -e ".[course,test]"
	@touch $@ $(FLOORS)/.course-installed $(FLOORS)/.test-installed

venv-floors: $(FLOORS)/.floors-installed

# numpy's wheels bundle their own OpenBLAS, which rounds differently at the floors: trained models there print other
# last digits, so nbval also masks every number (tests/nbval_sanitize_floors.cfg says what is still compared).
$(FLOORS)/nbval_sanitize.cfg: tests/nbval_sanitize.cfg tests/nbval_sanitize_floors.cfg | venv-floors
	cat $^ > $@

test-floors: venv-floors $(FLOORS)/nbval_sanitize.cfg
	$(MAKE) --no-print-directory VENV=$(FLOORS) NBVAL_SANITIZE=$(FLOORS)/nbval_sanitize.cfg \
		lint unit nbval-solutions

$(VENV)/.browser-installed: pyproject.toml $(VENV)/.test-installed
	$(PY) -m pip install --quiet -e ".[course,test,browser]"
	@touch $@

# Screenshots of every lesson go to build/browser/.
# Two workers (BROWSER_WORKERS), each with its own JupyterLab and chromium: the lessons run two at a time.
BROWSER_WORKERS ?= 2
test-browser: $(VENV)/.browser-installed
	$(PY) -m pytest -p no:cacheprovider -n $(BROWSER_WORKERS) --dist loadgroup tests/browser

# The kernel inherits this environment: a fixed hash seed (set order), inline figures whatever MPLBACKEND says,
# one BLAS thread (as tools/execute_notebooks.py: small matrices gain nothing from more, a busy machine loses much),
# and no network (tools/offline/sitecustomize.py refuses every host but this one): every notebook is proven offline.
# Notebooks run two at a time (one per core, each kernel on one BLAS thread); a notebook's cells stay in one worker.
NBVAL := PYTHONHASHSEED=0 MPLBACKEND=module://matplotlib_inline.backend_inline OPENBLAS_NUM_THREADS=1 \
	PYTHONPATH="$(CURDIR)/tools/offline$(if $(PYTHONPATH),:$(PYTHONPATH))" \
	$(PY) -m pytest -p no:cacheprovider --nbval-current-env --nbval-cell-timeout=300 -n $(PYTEST_WORKERS) --dist loadfile

NBVAL_SANITIZE ?= tests/nbval_sanitize.cfg
# LESSONS_IN_BROWSER=1 (CI) leaves the lessons to make test-browser, which runs each one top to bottom in JupyterLab
# and fails on any error output, as --nbval-lax does here.
LESSONS_IN_BROWSER ?=
nbval: nbval-solutions
ifneq ($(LESSONS_IN_BROWSER),1)
	$(NBVAL) --nbval-lax lessons/*.ipynb
endif

# The solutions run in grading mode: a check that fails there would cost a correct submission its points.
nbval-solutions: venv-test
	NNLIB_GRADING=1 $(NBVAL) --nbval --nbval-sanitize-with $(NBVAL_SANITIZE) solutions/*.ipynb

# torch is only a benchmark and test reference. Elsewhere than this machine add
# TORCH_INDEX="--index-url https://download.pytorch.org/whl/cpu" so that pip takes the CPU build, not CUDA.
TIMINGS ?=
TORCH_VERSION ?= 2.13.0
TORCH_INDEX ?=
bench: venv-test
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install --quiet torch==$(TORCH_VERSION) $(TORCH_INDEX)
	$(PY) benchmarks/run.py

# Deterministic (fixed seeds, one BLAS thread): rerunning it rewrites the committed weights with the same values.
pretrained: venv-course
	OPENBLAS_NUM_THREADS=1 $(PY) -m nnlib.pretrained

# Cells tagged "timing" keep their stored measurements unless TIMINGS=1: rerunning changes nothing in git.
notebooks: venv-test
	FORCE=$(FORCE) $(PY) tools/make_lessons.py
	$(PY) tools/execute_notebooks.py $(if $(filter 1,$(TIMINGS)),--refresh-timings) $(SOLUTIONS)

# Open build/html/index.html. MathJax, require.js and the widget renderer are fetched with npm at build time (cached in
# build/html-cache/), so the site loads nothing from a CDN when viewed.
html: venv-course
	$(PY) tools/build_html.py --learners --out build/html
	$(PY) tools/build_html.py --out build/html-instructor

clean:
	rm -rf $(VENV) $(FLOORS) build .pytest_cache .ruff_cache .hypothesis

# --- grading with nbgrader, and the install paths -------------------------------------------------------------------
.PHONY: nbgrader test-grading test-install
GRADING_VENV ?= .venv-grading
GRADING_PY   := $(GRADING_VENV)/bin/python

nbgrader: venv-course
	FORCE=$(FORCE) $(PY) tools/make_nbgrader.py --out build/nbgrader

# nbgrader gets a venv of its own by default (its JupyterLab extensions stay out of the learners' lab); GRADING_VENV=.venv
# grades in the course venv, as an instructor with one environment would. nbgrader runs alembic from PATH.
$(GRADING_VENV)/.grading-installed: pyproject.toml
	test -x $(GRADING_PY) || $(PYTHON) -m venv $(GRADING_VENV)
	$(GRADING_PY) -m pip install --quiet -e ".[course,test,grading]"
	@touch $@

test-grading: $(GRADING_VENV)/.grading-installed
	PATH="$(CURDIR)/$(GRADING_VENV)/bin:$$PATH" $(GRADING_PY) -m pytest -p no:cacheprovider -rA tests/grading

# The two installs (the quick start's venv, the wheel's venv) run side by side: mostly downloads and unpacking.
test-install: venv-test
	$(PY) -m pytest -p no:cacheprovider -n 2 tests/install

# --- a class on one JupyterHub (README: "A class on one JupyterHub") --------------------------------------------------
.PHONY: hub hub-release hub-grade test-hub venv-hub hub-proxy
HUB_VENV ?= .venv-hub
HUB_PY   := $(HUB_VENV)/bin/python
HUB_DIR  ?= build/hub
HUB_PORT ?= 8000
HUB_PASSWORD ?=
LESSON   ?= 03_backpropagation_by_hand
HUB_TEST_TIMEOUT ?= 540

# The hub, nbgrader and the course in one venv: the learners' servers run from it (jupyterhub-singleuser).
$(HUB_VENV)/.hub-installed: pyproject.toml
	test -x $(HUB_PY) || $(PYTHON) -m venv $(HUB_VENV)
	$(HUB_PY) -m pip install --quiet -e ".[course,test,grading,hub]"
	@touch $@

# JupyterHub's proxy from npm, at the version of tools/hub/package-lock.json, into $(HUB_DIR)/proxy (never global).
%/proxy/.installed: tools/hub/package.json tools/hub/package-lock.json
	mkdir -p $*/proxy && cp $^ $*/proxy/
	cd $*/proxy && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

venv-hub: $(HUB_VENV)/.hub-installed
hub-proxy: $(HUB_DIR)/proxy/.installed

# Learners log in with any name and the shared password (HUB_PASSWORD, or one made up and printed here).
hub: venv-hub hub-proxy
	@password="$${HUB_PASSWORD:-$$($(HUB_PY) -c 'import secrets; print(secrets.token_urlsafe(9))')}"; \
	echo "JupyterHub on http://127.0.0.1:$(HUB_PORT): any name, password $$password (state in $(HUB_DIR))"; \
	NNLIB_HUB_DIR="$(CURDIR)/$(HUB_DIR)" NNLIB_HUB_PORT=$(HUB_PORT) NNLIB_HUB_PASSWORD="$$password" \
		$(HUB_VENV)/bin/jupyterhub -f tools/hub/jupyterhub_config.py

hub-release: venv-hub
	NNLIB_HUB_DIR="$(CURDIR)/$(HUB_DIR)" $(HUB_PY) tools/hub/instructor.py release $(LESSON)

hub-grade: venv-hub
	NNLIB_HUB_DIR="$(CURDIR)/$(HUB_DIR)" $(HUB_PY) tools/hub/instructor.py grade $(LESSON)

# Bounded: past HUB_TEST_TIMEOUT s pytest gets SIGTERM and stops the hub (tests/hub/conftest.py), 60 s later SIGKILL.
# The proxy is always build/hub/proxy's; the test's hub keeps its state in build/hub-test/ (report.md there).
test-hub: venv-hub build/hub/proxy/.installed
	timeout --kill-after=60 $(HUB_TEST_TIMEOUT) $(HUB_PY) -m pytest -p no:cacheprovider -rA tests/hub; \
	status=$$?; cat build/hub-test/report.md 2>/dev/null; exit $$status
