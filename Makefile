# The book's two commands: `make book` and `make test` (see README.md).
# Both create/reuse a virtual environment and install the project into it first.

PYTHON   ?= python3
VENV     ?= .venv
PROFILE  ?= auto
JOBS     ?= 1
PY       := $(VENV)/bin/python
# pytest workers for `make test`: one per core, at most 8 (each test may start a kernel or two)
TEST_WORKERS ?= $(shell n=$$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2); [ $$n -gt 8 ] && n=8; echo $$n)
PYTEST   := $(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup --durations=15
STAMP    := $(VENV)/.installed

# The local data directory: $IDL_DATA_DIR if set, else ../shared/data when it exists.
ifeq ($(origin IDL_DATA_DIR), undefined)
  ifneq ($(wildcard ../shared/data),)
    export IDL_DATA_DIR := $(abspath ../shared/data)
  endif
endif

.PHONY: book test test-heavy test-all html run install clean help

help:
	@echo "make book [PROFILE=auto|smoke|quick|full] [JOBS=N]  execute every notebook, then build _build/html"
	@echo "make test                                          run the test suite except the heavy end-to-end tests"
	@echo "make test-heavy                                    run only the heavy end-to-end tests (smoke book, workflow replay)"
	@echo "make test-all                                      run every test (what CI runs, in two steps)"
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
	$(PYTEST) -m "not heavy"

test-heavy: $(STAMP)
	$(PYTEST) -m heavy

test-all: $(STAMP)
	$(PYTEST)

clean:
	rm -rf _build .pytest_cache
