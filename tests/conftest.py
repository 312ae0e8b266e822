import os
from pathlib import Path

import pytest

from xlbackprop.libreoffice import soffice

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


@pytest.fixture
def shared_dir():
    if not SHARED.is_dir():
        pytest.skip(f"../shared is absent (expected beside the project root at {SHARED.name}/)")
    return SHARED


@pytest.fixture
def libreoffice():
    """The soffice executable; on CI its absence is a failure, elsewhere a skip."""
    exe = soffice()
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("LibreOffice (soffice) is not installed, and CI must have it")
        pytest.skip("LibreOffice (soffice) is not installed")
    return exe


RANDOM_342 = """
name = "random-3-4-2"
sizes = [3, 4, 2]
activations = ["tanh", "relu"]
bias = "trained"
seed = 6
learning_rates = [0.05, 0.3]
iterations = 20

[[samples]]
inputs = [0.5, -0.2, 0.9]
targets = [0.3, 0.4]

[[samples]]
inputs = [-0.7, 0.1, 0.4]
targets = [0.8, 0.1]
"""


@pytest.fixture
def random_spec_file(tmp_path):
    """A 3-4-2 network with tanh and relu, trained biases and two samples, as a TOML spec file."""
    path = tmp_path / "random-3-4-2.toml"
    path.write_text(RANDOM_342)
    return path


@pytest.fixture
def random_spec(random_spec_file):
    from xlbackprop.spec import load_spec
    return load_spec(random_spec_file)
