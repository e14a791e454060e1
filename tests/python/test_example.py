"""The worked example of docs/PYTHON.md, run as it is written there."""

import os
import pathlib
import subprocess
import sys

import pytest

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "PYTHON.md"


def example_code():
    text = DOC.read_text()
    start = text.index("```python\n", text.index("## Worked example")) + len("```python\n")
    return text[start:text.index("```\n", start)]


def test_worked_example(tmp_path):
    pytest.importorskip("numpy")
    pytest.importorskip("torch")
    if not os.path.exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"):
        pytest.skip("dataset-fashion-mnist is not installed")
    script = tmp_path / "example.py"
    script.write_text(example_code())
    run = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "certification drop" in run.stdout
    assert (tmp_path / "cnn.dsz").exists()
