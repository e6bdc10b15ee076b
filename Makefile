# losscookbook: `make book` builds the book, `make test` runs every test.
# Both create (or refresh) the virtual environment in .venv first; a second run skips what is
# already installed. torch is installed first, pinned to its CPU build, and every later pip
# call is constrained by constraints.txt, so nothing can pull a CUDA build of torch.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.losscookbook-installed
PIP    := $(BIN)/python -m pip --disable-pip-version-check
BOOK_HTML := _build/html
PORT   ?= 8000
# Two pytest workers (one per core of a small machine); each keeps torch to one thread.
WORKERS ?= 2

export JUPYTER_PREFER_ENV_PATH := 1
# the chapters train small models: one thread each is fastest, and leaves the other core to pytest-xdist
export OMP_NUM_THREADS ?= 1
export PYDEVD_DISABLE_FILE_VALIDATION := 1
# the kernels pick the inline backend themselves; an inherited Agg would drop every figure
unexport MPLBACKEND

.PHONY: help venv book test unit notebooks book-strict bench serve clean distclean

help:
	@echo "make book   build the HTML book (every chapter executed) into $(BOOK_HTML)"
	@echo "make test   unit tests, doctests, every chapter (nbval) and the strict book build"
	@echo "make bench  speed and memory benchmarks against the alternatives"
	@echo "make serve  serve the built book on http://localhost:$(PORT)"
	@echo "make clean  remove build outputs (make distclean also removes $(VENV))"

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -c "import torch" 2>/dev/null && echo "torch already installed" || \
		$(PIP) install -q -c constraints.txt torch
	$(PIP) install -q -c constraints.txt -e ".[plot,book,test,bench]"
	@$(BIN)/python -c "import torch, losscookbook; print('torch', torch.__version__, '| losscookbook', losscookbook.__version__)"
	@touch $@

book: $(STAMP)
	-$(BIN)/python tools/execute_book.py
	$(BIN)/jupyter-book build . --builder html
	@echo
	@echo "The book: $(abspath $(BOOK_HTML))/index.html"

test: unit book-strict

# unit tests + doctests + every chapter notebook, spread over $(WORKERS) processes
unit: $(STAMP)
	$(BIN)/python -m pytest -n $(WORKERS) --dist loadfile -m "not built_book" \
		--nbval-lax --nbval-current-env --nbval-cell-timeout=300 --durations=15 -p no:cacheprovider

notebooks: $(STAMP)
	$(BIN)/python -m pytest -n $(WORKERS) --dist loadfile \
		--nbval-lax --nbval-current-env --nbval-cell-timeout=300 --durations=0 -p no:cacheprovider book

# tools/execute_book.py first runs the chapters one per core into the build's execution cache
# (a failing chapter is left to the build, which runs it again and reports it)
# strict build: every warning is an error, every reference must resolve
# then check the built pages (API names, local MathJax, figures, citations, Colab buttons), and
# open every page in headless Chromium (skipped, with the reason shown by -rs, without Chromium)
book-strict: $(STAMP)
	-$(BIN)/python tools/execute_book.py
	$(BIN)/jupyter-book build . --builder html --all -W -n --keep-going
	$(BIN)/python -m pytest -m built_book tests/test_built_book.py tests/test_browser.py -q -rs -p no:cacheprovider

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

serve: $(STAMP)
	@test -f $(BOOK_HTML)/index.html || $(MAKE) book
	$(BIN)/python -m http.server $(PORT) --bind 127.0.0.1 --directory $(BOOK_HTML)

clean:
	rm -rf _build .pytest_cache .hypothesis
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) *.egg-info
