# ffn_render — common tasks. `make help` lists them.
PYTHON ?= python3
# The builds on this project's machines' disk (torchvision, needed by pytorchcv and the
# torchvision dataset adapter, exists here only beside torch 2.14.1); GPU users: make setup TORCH_SPEC='torch>=2.1 torchvision'
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
SPLIT ?= train
CONFIG ?= configs/render_default.yaml
# Leave SPECS empty to draw specs from the config's `sequences:` section.
SPECS ?=
OUT ?= out/dataset
DEMO ?= out/demo
DEVICE ?= auto
PYTEST_ARGS ?=

.PHONY: help setup test test-all demo render bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

setup:  ## install everything: system packages, torch, the package with every extra (render, train, cluster, faces) and test
	bash scripts/install_system_packages.sh
	$(PYTHON) -m pip install --quiet $(foreach spec,$(TORCH_SPEC),"$(spec)")
	$(PYTHON) -m pip install --quiet -e '.[all,test]'

test:  ## the fast test suite (what CI runs)
	$(PYTHON) -m pytest -q $(PYTEST_ARGS)

test-all:  ## every test, slow ones included (full-resolution renders, longer training)
	$(PYTHON) -m pytest -q -m "" $(PYTEST_ARGS)

demo:  ## render a small complete dataset from the built-in defaults into out/demo, verify it, draw previews
	ffn-render render --config configs/demo.yaml --out $(DEMO)
	ffn-render verify $(DEMO)
	ffn-render preview $(DEMO) --out $(DEMO)/preview.png
	ffn-render preview-head --out $(DEMO)/head.png
	@echo "demo dataset in $(DEMO); look at $(DEMO)/preview.png and $(DEMO)/head.png"

render:  ## render one split: make render SPLIT=train [CONFIG=…] [SPECS=…] [OUT=…] [DEVICE=…]
	ffn-render render --config $(CONFIG) --split $(SPLIT) --out $(OUT) --device $(DEVICE) $(if $(SPECS),--specs $(SPECS))

bench:  ## benchmark scripts; each prints ratios measured side by side in one run
	$(PYTHON) benchmarks/bench_render.py
	$(PYTHON) benchmarks/bench_quality.py
	$(PYTHON) benchmarks/bench_decflow.py

clean:  ## remove generated outputs
	rm -rf out .pytest_cache
