"""Shared fixtures: the package under test comes from PYTHONPATH (ctest sets
it to build/python); DSZ names the dsz tool when the tests may call it."""

import os
import shutil

import pytest


@pytest.fixture
def dsz_tool():
    path = os.environ.get("DSZ") or shutil.which("dsz")
    if not path or not os.path.exists(path):
        pytest.skip("the dsz tool is not available (set DSZ)")
    return path
