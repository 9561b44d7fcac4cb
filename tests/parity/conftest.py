"""Shared fixtures: real Fashion-MNIST data in small check setups, and a Keras model with random weights."""

from __future__ import annotations

import keras
import pytest

import parity  # noqa: F401  (loads both frameworks in a safe order)
from parity.harness.data import Setup, load_setup
from parity.harness.states import fresh, randomized


@pytest.fixture(scope="session")
def setup() -> Setup:
    """512 test images, shuffled training batches, a 20-step trajectory."""
    return load_setup(steps=20, seed=0)


@pytest.fixture(scope="session")
def small_setup(setup: Setup) -> Setup:
    """64 evaluation images and a 5-step trajectory, for the broken-port matrix."""
    return Setup(setup.x_eval[:64], setup.y_eval[:64], setup.x_train, setup.y_train, steps=5)


@pytest.fixture(scope="session")
def random_model() -> keras.Model:
    """The reference Keras model with every weight (biases too) random and non-zero."""
    return randomized(fresh(0), 1)
