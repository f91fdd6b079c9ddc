"""Fixtures for the filter tests (helpers live in filterkit.py, beside this file)."""

from __future__ import annotations

import pytest

from .filterkit import load_quality_set


@pytest.fixture(scope="session")
def quality_items():
    return load_quality_set().labelled_set(seed=0, per_cell=3)
