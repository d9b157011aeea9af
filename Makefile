# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SIZE   ?= 10000000

.PHONY: demo test test-e2e test-trino trino trino-stop screenshots lab bench lint format venv clean js plotly-basic

# Rebuilt only when pyproject.toml changes, so a second run starts at once.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	$(BIN)/python -m ipykernel install --sys-prefix --name accessmon --display-name "accessmon" >/dev/null
	touch $@

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/accessmon demo
	$(BIN)/accessmon summary | head -1
	$(BIN)/accessmon report run privilege_access_report

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/pytest -n 2 --dist worksteal -q

# JupyterLab in Chromium, on a fresh copy of the repo after `make demo` (tests/e2e).
test-e2e: $(STAMP)
	$(BIN)/pytest tests/e2e -m e2e -p no:xdist -q

# The README's images, written by the browser tests that open the editor and the report.
screenshots: $(STAMP)
	ACCESSMON_SCREENSHOTS=docs/screenshots $(BIN)/pytest tests/e2e -m e2e -p no:xdist -q \
		-k "first_use or security_report"

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py --size $(SIZE) | tee benchmarks/latest.md

lint: $(STAMP)
	$(BIN)/ruff check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache

# The SQL box's CodeMirror bundle, committed so that installing needs no Node.js.
js:
	cd js && npm ci --no-audit --no-fund && npm run build

# The report HTML's plotly.js: npm's basic bundle of the version plotly.py draws with, committed
# (about a quarter of the full bundle plotly.py ships; the report falls back to that on a mismatch).
plotly-basic: $(STAMP)
	cd accessmon/templates/report && \
	v=$$($(CURDIR)/$(BIN)/python -c "from plotly.offline import get_plotlyjs_version as v; print(v())") && \
	npm pack --silent plotly.js-basic-dist-min@$$v >/dev/null && \
	tar -xzf plotly.js-basic-dist-min-$$v.tgz package/plotly-basic.min.js package/LICENSE && \
	mv package/plotly-basic.min.js . && mv package/LICENSE plotly-basic.LICENSE && \
	rm -r package plotly.js-basic-dist-min-$$v.tgz

# A real Trino 476, the oracle for Athena's answers (tests/trino; needs Java 24+ and Maven).
test-trino: $(STAMP)
	$(BIN)/pytest tests/trino -m trino -p no:xdist -q

trino: $(STAMP)
	$(BIN)/python -m tests.trino.server start

trino-stop:
	$(BIN)/python -m tests.trino.server stop
