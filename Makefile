# The two commands of the README. Both install what they need first (torch too if none is installed).
# `make quickstart ARGS="--minutes 5"` passes options to `uva-kit quickstart`.
PYTHON ?= python3
PIP := $(PYTHON) -m pip

.PHONY: install quickstart test test-plugins

PLUGINS := plugins/uva-kit-force plugins/uva-kit-sound

install:
	$(PYTHON) -c "import torch" 2>/dev/null || $(PIP) install torch==2.13.0
	$(PIP) install "setuptools>=64" wheel ninja pybind11
	$(PIP) install --no-build-isolation -e ".[test]"

quickstart: install
	$(PYTHON) -m uva_kit quickstart $(ARGS)

test: install
	$(PYTHON) -m pytest

# The plugin distributions in plugins/ installed (editable), then the core suite and theirs in one run.
# CI runs `make test` (core, no plugins installed) first, then this.
test-plugins: install
	$(PIP) install --no-build-isolation --no-deps $(addprefix -e ,$(PLUGINS))
	$(PYTHON) -m pytest tests $(addsuffix /tests,$(PLUGINS))
