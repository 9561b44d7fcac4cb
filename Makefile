# Quick start: `make train` (reference recipe, PyTorch Lightning) and `make test`.
# Both create the virtual environment and install what they need on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUNS ?= runs
RECIPE ?= reference
DEBIAN_DATA := /usr/share/datasets/fashion-mnist

.PHONY: setup data train train-keras test test-fast lint parity clean

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

test: setup data
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

# ruff alone: lint and format check of the whole tree (config in pyproject.toml); `make test` runs both.
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test-fast: setup
	$(BIN)/python -m pytest -m "not slow"

clean:
	rm -rf $(VENV) .pytest_cache
