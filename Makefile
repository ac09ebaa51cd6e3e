# The two commands of the README. Both install what they need first (CPU torch if none is installed).
PYTHON ?= python3
PIP := $(PYTHON) -m pip

.PHONY: install quickstart test

install:
	$(PYTHON) -c "import torch" 2>/dev/null || $(PIP) install torch==2.13.0
	$(PIP) install "setuptools>=64" wheel ninja pybind11
	$(PIP) install --no-build-isolation -e ".[test]"

quickstart: install
	$(PYTHON) -m uva_kit info

test: install
	$(PYTHON) -m pytest
