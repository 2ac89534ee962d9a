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
	$(BIN)/digitlens report --run $(RUN) --out $(RUN)/report
	@echo "run folder: $(RUN)  (model: $(RUN)/model.npz, history: $(RUN)/history.json)"
	@echo "report: $(RUN)/report/index.html"
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
	$(BIN)/digitlens train --preset s3-machine-academy --out runs/s3-machine-academy
	$(BIN)/digitlens train --preset default --out $(RUN)
	$(BIN)/python benchmarks/bench_render.py --s3 runs/s3-machine-academy --default $(RUN)
	$(BIN)/python benchmarks/bench_web_load.py --run $(RUN) --workers 2
	$(BIN)/python benchmarks/bench_web_load.py --run $(RUN) --kinds api --seconds 15
	$(BIN)/python benchmarks/bench_browser.py --run $(RUN)
	$(BIN)/python benchmarks/bench_classroom.py --run $(RUN)

clean:
	rm -rf $(VENV) runs out .pytest_cache .mypy_cache .ruff_cache
