# digitlens: `make demo` sets everything up and runs the main job; `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
RUN ?= runs/default

.PHONY: install demo test check bench sysdeps clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[all,dev]"
	touch $(STAMP)

install: $(STAMP)

# Chromium (browser tests) and LibreOffice (workbook tests) from Debian, when we are root.
sysdeps:
	@bash scripts/install-system-deps.sh

demo: $(STAMP)
	$(BIN)/digitlens data fetch
	$(BIN)/digitlens train --preset default --out $(RUN)
	@echo "run folder: $(RUN)  (model: $(RUN)/model.npz, history: $(RUN)/history.json)"
	$(BIN)/digitlens serve --run $(RUN)

test: $(STAMP) sysdeps
	$(BIN)/python -m pytest -q

check: $(STAMP)
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_train.py
	$(BIN)/python benchmarks/bench_presets.py
	$(BIN)/python benchmarks/bench_export.py
	$(BIN)/python benchmarks/bench_web_load.py --run $(RUN)
	$(BIN)/python benchmarks/bench_browser.py --run $(RUN)

clean:
	rm -rf $(VENV) runs out .pytest_cache .mypy_cache .ruff_cache
