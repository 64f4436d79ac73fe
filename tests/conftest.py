"""Fixtures shared by every test module.

Area-specific fixtures live in the test modules (or tests/support/) that use
them; only what several areas need is here.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support import digits

DIGITS_NAME = "digits"


@pytest.fixture(scope="session")
def trained_digits():
    """``(net, split)``: the real digits CNN, trained once per test session."""
    return digits.train()


@pytest.fixture(scope="session")
def digits_export(trained_digits, tmp_path_factory) -> Path:
    """A pristine exported model dir (no handler): never modify it, copy it."""
    net, _ = trained_digits
    return digits.export_model_dir(net, tmp_path_factory.mktemp("digits-export"), DIGITS_NAME)


@pytest.fixture
def digits_dir(digits_export, tmp_path) -> Path:
    """A private copy of the exported digits model dir, free to break."""
    target = tmp_path / "digits-model"
    shutil.copytree(digits_export, target)
    return target
