# Two commands do all the set-up on a fresh machine (Python 3.11 and Java 17):
#   make demo   runs the main job on the embedded default
#   make test   runs the test suite
# The first run creates .venv, installs the Python packages and fetches the
# jars into .cache/; later runs reuse them and need no network.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
JARS := .cache/jars/spark/.complete .cache/jars/kafka/.complete

.PHONY: demo test test-quick jars kafka-start kafka-stop clean

$(INSTALLED): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found; set PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e ".[spark,test]"
	touch $(INSTALLED)

$(JARS): $(INSTALLED) infra/jars/spark-ivy.xml infra/jars/kafka-ivy.xml
	$(BIN)/python -m pipelines.runtime.jars

jars: $(JARS)

demo: $(JARS)
	$(BIN)/meterhouse demo

test: $(JARS)
	$(BIN)/pytest

test-quick: $(JARS)
	$(BIN)/pytest -m "not slow"

kafka-start: $(JARS)
	$(BIN)/meterhouse kafka start

kafka-stop: $(INSTALLED)
	$(BIN)/meterhouse kafka stop

clean:
	rm -rf lake exports .cache/kafka
