# maskedav: the two commands are `make reproduce` and `make test` (see README.md).
VENV    ?= .venv
PYTHON  ?= python3
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.maskedav-installed
PROFILE ?=
ONLY    ?=
FORCE   ?=

RUN_ARGS = $(if $(PROFILE),--profile $(PROFILE)) $(if $(ONLY),--only $(ONLY)) $(if $(FORCE),--force)

.PHONY: install reproduce run test book lab status sync clean-book

# Create .venv if missing and install the pinned environment (pyproject.toml is the one source of pins).
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	@touch $(STAMP)

install: $(STAMP)

# Execute every notebook (dependency order, cached) at PROFILE (default: gpu if CUDA, else cpu),
# write results/, then build the HTML book into book/_build/html. Fails if any notebook failed.
reproduce: install
	@$(PY) -m maskedav.book run $(RUN_ARGS); status=$$?; \
	$(PY) -m maskedav.book build && exit $$status

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

# JupyterLab with jupytext: the .py notebooks open as notebooks.
lab: install
	$(VENV)/bin/jupyter lab notebooks

# Re-pair every notebook after editing its .py (or its .ipynb in JupyterLab).
sync: install
	$(VENV)/bin/jupytext --sync notebooks/*/*.py

clean-book:
	rm -rf book/_build book/_stage
