# digitlens: `make demo` sets everything up and runs the main job; `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEV_STAMP := $(VENV)/.dev-installed-stamp
RUN ?= runs/default
PORT ?= 8000

.PHONY: install demo test check bench fuzz sysdeps clean

# the demo needs every extra (`all`); the tests also need the oracles and tools of `dev`
# (PyTorch, Playwright, JupyterLab, scikit-learn); the big install names each package as pip
# takes it, so its minute or two is not silence
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	@echo "installing digitlens and its extras into $(VENV) (a minute or two; pip names each package)…"
	@bash -o pipefail -c '$(BIN)/python -m pip install --progress-bar off -e ".[all]" | { grep --line-buffered -E "^(Collecting|Installing|Successfully)" || true; }'
	touch $(STAMP)

$(DEV_STAMP): $(STAMP)
	@echo "installing the test tools (dev extra) into $(VENV)…"
	$(BIN)/python -m pip install -q -e ".[all,dev]"
	touch $(DEV_STAMP)

install: $(STAMP)

# Chromium (browser tests) and LibreOffice (workbook tests) from Debian, when we are root.
sysdeps:
	@bash scripts/install-system-deps.sh

# trains the seeds' networks beside the default (finished runs are not retrained), builds the
# gallery report only when a run changed, then serves the explorer on $(PORT)
demo: $(STAMP)
	$(BIN)/python scripts/demo.py --runs-dir runs --port $(PORT)

# axe-core, injected into Chromium by the accessibility tests (tests/a11y.py), and the
# front-end's checks (eslint, typescript), pinned by package-lock.json into node_modules/;
# with no npm the accessibility tests and the JS checks skip (and fail in CI)
AXE := node_modules/axe-core/axe.min.js
$(AXE): package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund --silent && touch $@; \
	else echo "note: npm missing; the accessibility tests will skip" >&2; fi

test: $(DEV_STAMP) sysdeps $(AXE)
	$(BIN)/python -m pytest -q

# Hostile inputs at ten times the tests' case counts, then the figures (docs/hostile-input.md).
fuzz: $(DEV_STAMP)
	DIGITLENS_FUZZ_SCALE=10 $(BIN)/python -m pytest -q tests/test_fuzz_loaders.py
	$(BIN)/python benchmarks/bench_fuzz.py --scale 2 --seed 1

# lint-imports: the layer contract of pyproject.toml (docs/architecture.md); an import that
# looks up a layer fails the build. The front-end: eslint (eslint.config.js) and tsc over the
# JSDoc-typed modules (tsconfig.json: checkJs, noEmit), both pinned by package-lock.json.
check: $(DEV_STAMP) $(AXE)
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/mypy
	$(BIN)/lint-imports
	npx --no-install eslint .
	npx --no-install tsc -p tsconfig.json

bench: $(DEV_STAMP)
	$(BIN)/python benchmarks/bench_train.py
	$(BIN)/python benchmarks/bench_presets.py
	$(BIN)/python benchmarks/bench_export.py
	$(BIN)/digitlens train --preset s3-machine-academy --out runs/s3-machine-academy
	$(BIN)/digitlens train --preset default --out $(RUN)
	$(BIN)/python benchmarks/bench_render.py --s3 runs/s3-machine-academy --default $(RUN)
	$(BIN)/python benchmarks/bench_web_load.py --run $(RUN) --workers 2
	$(BIN)/python benchmarks/bench_web_load.py --run $(RUN) --kinds api --seconds 15
	$(BIN)/python benchmarks/bench_browser.py --run $(RUN)
	$(BIN)/python benchmarks/bench_ask.py --run $(RUN)
	$(BIN)/python benchmarks/bench_ask_page.py --run $(RUN)
	$(BIN)/python benchmarks/bench_sweep.py
	$(BIN)/python benchmarks/bench_datasets.py
	$(BIN)/python benchmarks/bench_classroom.py --run $(RUN)

clean:
	rm -rf $(VENV) runs out node_modules .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
