# ffn_render — common tasks. `make help` lists them.
PYTHON ?= python3
# The CPU build on this project's machines; GPU users: make setup TORCH_SPEC='torch>=2.1'
TORCH_SPEC ?= torch==2.13.0
SPLIT ?= train
CONFIG ?= configs/render_default.yaml
SPECS ?= out/specs
OUT ?= out/dataset
DEVICE ?= auto
PYTEST_ARGS ?=

.PHONY: help setup test test-all demo render bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

setup:  ## install everything: system packages, torch, the package with test extras
	bash scripts/install_system_packages.sh
	$(PYTHON) -m pip install --quiet "$(TORCH_SPEC)"
	$(PYTHON) -m pip install --quiet -e '.[test]'

test:  ## the fast test suite (what CI runs)
	$(PYTHON) -m pytest -q $(PYTEST_ARGS)

test-all:  ## every test, slow ones included (full-resolution renders, longer training)
	$(PYTHON) -m pytest -q -m "" $(PYTEST_ARGS)

clean:  ## remove generated outputs
	rm -rf out .pytest_cache
