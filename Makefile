# maskedav: the two commands are `make reproduce` and `make test` (see README.md).
VENV    ?= .venv
PYTHON  ?= python3
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.maskedav-installed
PROFILE ?=
ONLY    ?=
FORCE   ?=
# Extra arguments of `jupyter lab` (as root, JupyterLab needs --allow-root: the default then).
LAB_ARGS ?= $(if $(filter 0,$(shell id -u)),--allow-root)

RUN_ARGS   = $(if $(PROFILE),--profile $(PROFILE)) $(if $(ONLY),--only $(ONLY)) $(if $(FORCE),--force)
BUILD_ARGS = $(if $(PROFILE),--profile $(PROFILE))

.PHONY: install reproduce run test book lab status sync clean-book

# Create .venv if missing and install the pinned environment (pyproject.toml is the one source of pins).
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	@touch $(STAMP)

install: $(STAMP)

# Execute every notebook (dependency order, cached) at PROFILE (default: gpu if CUDA, else cpu)
# into that profile's results tree (cpu: results/, gpu/paper: results/profiles/<profile>/, smoke: a
# scratch folder outside the repository), then build the HTML book into book/_build/html.
# A failed notebook still gets the book built, then fails; a usage error or a refused run
# (runner exit status 2: bad arguments, a tree of another profile or in use) stops before the build.
reproduce: install
	@$(PY) -m maskedav.book run $(RUN_ARGS); status=$$?; \
	if [ $$status -eq 2 ]; then exit 2; fi; \
	$(PY) -m maskedav.book build $(BUILD_ARGS) && exit $$status

run: install
	$(PY) -m maskedav.book run $(RUN_ARGS)

# The test suite, including every notebook at the smoke profile (into a temporary folder) and the book build.
test: install
	$(PY) -m pytest -q

# The HTML book from committed results only (no execution).
book: install
	$(PY) -m maskedav.book build

status: install
	$(PY) -m maskedav.book status

# JupyterLab with jupytext: the .py notebooks open as notebooks. `make lab LAB_ARGS="--port 8890"`.
lab: install
	$(VENV)/bin/jupyter lab $(LAB_ARGS) notebooks

# Re-pair every notebook after editing its .py (or its .ipynb in JupyterLab). The .ipynb twin carries
# the kernelspec (JupyterLab opens the .py without asking); the .py header keeps only the maskedav
# block, so the kernelspec never enters a cache key.
sync: install
	$(VENV)/bin/jupytext --sync --set-kernel python3 notebooks/*/*.py

clean-book:
	rm -rf book/_build book/_stage
