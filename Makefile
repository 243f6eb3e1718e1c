# The book's two commands: `make book` and `make test` (see README.md).
# Both create/reuse a virtual environment and install the project into it first.

PYTHON   ?= python3
VENV     ?= .venv
PROFILE  ?= auto
JOBS     ?= 1
PY       := $(VENV)/bin/python
STAMP    := $(VENV)/.installed

# The local data directory: $IDL_DATA_DIR if set, else ../shared/data when it exists.
ifeq ($(origin IDL_DATA_DIR), undefined)
  ifneq ($(wildcard ../shared/data),)
    export IDL_DATA_DIR := $(abspath ../shared/data)
  endif
endif

.PHONY: book test html run install clean help

help:
	@echo "make book [PROFILE=auto|smoke|quick|full] [JOBS=N]  execute every notebook, then build _build/html"
	@echo "make test                                          run the whole test suite"
	@echo "make html                                          rebuild the HTML from executed notebooks (no execution)"
	@echo "make install                                       only create $(VENV) and install"

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

book: $(STAMP)
	@status=0; \
	$(VENV)/bin/idl-book run --profile $(PROFILE) --jobs $(JOBS) || status=$$?; \
	$(VENV)/bin/idl-book build || status=$$?; \
	exit $$status

run: $(STAMP)
	$(VENV)/bin/idl-book run --profile $(PROFILE) --jobs $(JOBS)

html: $(STAMP)
	$(VENV)/bin/idl-book build

test: $(STAMP)
	$(PY) -m pytest

clean:
	rm -rf _build .pytest_cache
