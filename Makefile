# Quick start: `make train` (reference recipe, PyTorch Lightning) and `make test`.
# Both create the virtual environment and install what they need on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUNS ?= runs
RECIPE ?= reference
DEBIAN_DATA := /usr/share/datasets/fashion-mnist

.PHONY: setup data train train-keras test test-fast test-slow test-all lint parity clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

# Debian's dataset-fashion-mnist where apt and root are available; elsewhere the
# loader downloads (verified) into ~/.cache/sepconv on first use.
data:
	@if [ -f $(DEBIAN_DATA)/train-images-idx3-ubyte.gz ]; then echo "data: $(DEBIAN_DATA)"; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist; \
	else echo "data: not installed system-wide; it will be downloaded into the user cache"; fi

# Both write where the README's next commands look: sepconv-torch's default root runs/torch (each fit
# a new lightning_logs/version_N, `--ckpt_path best` takes the newest) and runs/keras.
train: setup data
	$(BIN)/sepconv-torch fit --config sepconv/recipes/$(RECIPE).yaml --trainer.default_root_dir=$(RUNS)/torch
	$(BIN)/sepconv-torch test --config sepconv/recipes/$(RECIPE).yaml --ckpt_path=best \
		--trainer.default_root_dir=$(RUNS)/torch

train-keras: setup data
	$(BIN)/sepconv-keras train --recipe $(RECIPE) --output-dir $(RUNS)/keras

parity: setup data
	$(BIN)/sepconv-parity

# Tests in two tiers split by the `slow` marker (pyproject.toml): `make test` is lint and the fast tier (a few
# minutes); `make test-slow` runs only the slow tier (long real-data trainings, DDP, kill and resume, fresh
# processes); `make test-all` is lint and both tiers in one pytest run. CI (.ci/run) runs test, then test-slow.
PYTEST ?= $(BIN)/python -m pytest

test: lint data
	$(PYTEST) -m "not slow"

# The fast tier without lint.
test-fast: setup data
	$(PYTEST) -m "not slow"

# pytest exits 5 when it selects no test. With no test marked slow, the fast tier holds every test: a pass,
# said out loud, once a collection shows that tier is not empty too (else the 5 stands). Any other status stands.
test-slow: setup data
	status=0; $(PYTEST) -m slow || status=$$?; \
	if [ $$status -eq 5 ]; then $(PYTEST) -q --collect-only -m "not slow" >/dev/null; status=$$?; \
		if [ $$status -eq 0 ]; then echo "test-slow: no test is marked slow; the fast tier holds them all"; fi; fi; \
	exit $$status

test-all: lint data
	$(PYTEST)

# ruff alone: lint and format check of the whole tree (config in pyproject.toml); `make test` runs both.
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache
