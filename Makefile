# evotrans — the README's two commands are `make demo` and `make test`.
# `make setup` builds .venv (once; later runs return at once) with torch, the
# pinned fairseq (requirements/fairseq.txt, see docs/fairseq.md) and evotrans.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
# torch for a new .venv. Already have a CUDA torch? Install it into .venv first
# (setup keeps any torch it finds), or pass e.g. TORCH_SPEC='torch==2.6.0'.
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.evotrans-setup
DEMO_OUT ?= runs/demo

# Python 3.12 for `make test-py312` (python3.12 on PATH, else pyenv's newest 3.12)
PYTHON312 ?= $(shell for p in $$(command -v python3.12) $$(ls -d $(HOME)/.pyenv/versions/3.12.*/bin/python3.12 2>/dev/null | sort -rV); do "$$p" -c pass 2>/dev/null && { echo "$$p"; break; }; done)
VENV312 ?= .venv312

.PHONY: setup demo test test-fast test-all test-pythons test-py312 lint bench chaos clean-demo

setup: $(STAMP)

$(STAMP): pyproject.toml requirements/fairseq.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q "numpy>=1.21,<2" cython "setuptools>=68" wheel
	# fairseq: sha256-pinned source, built against the torch above, no deps
	# (they would pull torchaudio and a second torch); see docs/fairseq.md.
	$(BIN)/python -c "import fairseq" 2>/dev/null || scripts/install-fairseq.sh $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[dev,fairseq]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/evotrans demo --out $(DEMO_OUT)

test: $(STAMP)
	$(BIN)/python -m pytest -q --durations=15

# the edit-test loop: unit and model tests (no fairseq CLI), about a minute on 2 cores
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not integration and not slow"

test-all: $(STAMP)
	$(BIN)/python -m pytest -q -m "slow or not slow"

# the torch-free core (`pip install -e .`) on Python 3.12 and 3.13, each in a cached
# .venv-core-3.X: the unmarked test tier and a real search (stand-in trials); a missing
# interpreter is skipped with a line. Needs no .venv. CI (.ci/run) runs its --quick subset.
test-pythons:
	scripts/test-core-pythons.sh

# the fairseq plugin on Python 3.12, not in CI (torch from PyPI is the CUDA build: 5.3 GB
# installed; about 15 min here, see README): a full setup into $(VENV312), then the
# numerics contract and real training, evaluation and generation
test-py312:
	@test -n "$(PYTHON312)" || { echo "test-py312: python3.12 not found (PATH or pyenv)"; exit 1; }
	$(MAKE) setup PYTHON="$(PYTHON312)" VENV=$(VENV312)
	$(VENV312)/bin/python -m pytest -q -o cache_dir=.pytest_cache-py312 \
		tests/integration/test_numerics.py tests/integration/test_model_equivalence.py \
		tests/integration/test_plugin_cli.py tests/integration/test_readme.py
	$(VENV312)/bin/python -m pytest -q -o cache_dir=.pytest_cache-py312 \
		tests/integration/test_genome_models.py -k transformer_genome

lint: $(STAMP)
	$(BIN)/ruff check evotrans fairseq_plugins tests bench scripts
	$(BIN)/ruff format --check evotrans fairseq_plugins tests bench scripts

bench: $(STAMP)
	$(BIN)/python -m bench --out docs/benchmarks.md

# the reliability suite in full (>= 20 driver kills, faults, full disks); prints its figures,
# writes them to docs/reliability-figures/ and into docs/reliability.md
chaos: $(STAMP)
	EVOTRANS_RELIABILITY_OUT=docs/reliability-figures $(BIN)/python -m pytest -q -s \
		-m "slow or not slow" tests/reliability
	$(BIN)/python scripts/reliability-figures.py

clean-demo:
	rm -rf $(DEMO_OUT) data/demo-bin
