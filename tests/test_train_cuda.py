"""The CUDA paths of `train`, for a machine with a GPU; without one every test here skips with the reason.
CI has no GPU: these run where one is lent (`python -m pytest -m cuda`)."""

import pytest
import torch

from xlbackprop.train.calibrate import choose_variant
from xlbackprop.train.checkpoint import read_checkpoint
from xlbackprop.train.config import config_for
from xlbackprop.train.loop import run

from tests.test_train_loop import random_mnist

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")]


def test_auto_device_trains_on_the_gpu_and_the_checkpoint_loads_on_a_cpu(tmp_path):
    config = config_for("s6-19k", epochs=2, batch_size=64, threads=1, compile="off")
    result = run(config, random_mnist(512, 128), tmp_path / "last.pt")
    assert result.device == "cuda"
    assert all(torch.isfinite(torch.tensor([m.train_loss, m.test_loss])).all() for m in result.history)
    weights = read_checkpoint(tmp_path / "last.pt")["model"]
    assert all(t.device.type == "cpu" for t in weights.values())


def test_auto_variant_is_measured_on_the_gpu(tmp_path):
    config = config_for("s6-19k", batch_size=64, threads=1)
    variant = choose_variant(config, torch.device("cuda"), 10_000, cache=tmp_path / "calibration.json")
    assert "fastest for this run as measured here" in variant.note
    assert (tmp_path / "calibration.json").is_file()
