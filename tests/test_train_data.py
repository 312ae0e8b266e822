import gzip
import sys
import types

import numpy as np
import pytest
import torch

from xlbackprop.errors import DataError
from xlbackprop.train import data
from xlbackprop.train.data import FILES, batches, deskew, elastic_field, load_mnist, read_idx, warp, write_idx


def fake_mnist(directory, n_train=40, n_test=20, gz=True, seed=0):
    rng = np.random.default_rng(seed)
    suffix = ".gz" if gz else ""
    for split, n in (("train", n_train), ("test", n_test)):
        write_idx(directory / (FILES[f"{split}_images"] + suffix), rng.integers(0, 256, (n, 28, 28)))
        write_idx(directory / (FILES[f"{split}_labels"] + suffix), rng.integers(0, 10, n))
    return directory


@pytest.mark.parametrize("gz", [True, False])
def test_reads_gzipped_and_raw_idx_files(tmp_path, gz):
    fake_mnist(tmp_path, n_train=30, n_test=12, gz=gz)
    mnist = load_mnist(tmp_path)
    assert mnist.train.images.shape == (30, 28, 28) and mnist.train.images.dtype == torch.uint8
    assert mnist.test.labels.shape == (12,) and mnist.test.labels.dtype == torch.int64
    raw = read_idx(tmp_path / (FILES["train_labels"] + (".gz" if gz else "")), data.LABELS_MAGIC)
    assert torch.equal(mnist.train.labels, torch.from_numpy(raw.astype(np.int64)))


def test_wrong_magic_number_is_rejected(tmp_path):
    fake_mnist(tmp_path)
    # A labels file where the images should be: magic 2049 instead of 2051.
    write_idx(tmp_path / (FILES["train_images"] + ".gz"), np.zeros(40, dtype=np.uint8))
    with pytest.raises(DataError, match="magic number 2049, expected 2051"):
        load_mnist(tmp_path)


def test_truncated_file_is_rejected_with_expected_size(tmp_path):
    fake_mnist(tmp_path)
    path = tmp_path / (FILES["test_images"] + ".gz")
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw[:-100]))
    with pytest.raises(DataError, match=r"bytes, expected \d+ for 20 items"):
        load_mnist(tmp_path)


def test_images_and_labels_of_different_lengths_are_rejected(tmp_path):
    fake_mnist(tmp_path)
    write_idx(tmp_path / (FILES["train_labels"] + ".gz"), np.zeros(39, dtype=np.uint8))
    with pytest.raises(DataError, match="40 images but .* has 39 labels"):
        load_mnist(tmp_path)


def test_corrupt_gzip_is_rejected(tmp_path):
    fake_mnist(tmp_path)
    path = tmp_path / (FILES["train_labels"] + ".gz")
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(DataError, match="corrupt gzip"):
        load_mnist(tmp_path)


def test_missing_file_names_all_four_files(tmp_path):
    fake_mnist(tmp_path)
    (tmp_path / (FILES["test_labels"] + ".gz")).unlink()
    with pytest.raises(DataError) as info:
        load_mnist(tmp_path)
    assert "missing t10k-labels-idx1-ubyte" in str(info.value)
    assert all(stem in str(info.value) for stem in FILES.values())


def test_offline_download_failure_says_where_to_put_the_files(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")

    # A stand-in torchvision whose downloader fails as it does offline (and which imports instantly).
    fake = types.SimpleNamespace(MNIST=offline)
    monkeypatch.setitem(sys.modules, "torchvision", types.SimpleNamespace(datasets=fake))
    monkeypatch.setitem(sys.modules, "torchvision.datasets", fake)
    with pytest.raises(DataError) as info:
        data.download(tmp_path)
    message = str(info.value)
    assert "--data-dir" in message and str(tmp_path / "MNIST" / "raw") in message
    assert all(stem + ".gz" in message for stem in FILES.values())


def test_cached_download_is_used_without_network(tmp_path, monkeypatch):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    fake_mnist(raw)
    monkeypatch.setattr(data, "DEFAULT_CACHE", tmp_path)
    assert len(load_mnist().train.labels) == 40


def test_batches_cover_every_image_once_and_are_normalised(tmp_path):
    mnist = load_mnist(fake_mnist(tmp_path, n_train=50))
    seen = []
    for x, y in batches(mnist.train, 16, shuffle=True, generator=torch.Generator().manual_seed(0)):
        assert x.shape[1:] == (1, 28, 28) and x.dtype == torch.float32
        seen.append(y)
    assert sorted(torch.cat(seen).tolist()) == sorted(mnist.train.labels.tolist())
    x, _ = next(batches(mnist.train, 50, shuffle=False))
    expected = (mnist.train.images.float() / 255 - data.MEAN) / data.STD
    assert torch.allclose(x[:, 0], expected)


def test_rotation_turns_each_image_of_the_batch_by_its_own_angle():
    x = torch.zeros(8, 1, 28, 28)
    x[:, :, 13:15, 2:26] = 1.0  # a horizontal bar
    assert torch.allclose(warp(x, 0.0), x, atol=1e-5)
    turned = warp(x, 30.0, torch.Generator().manual_seed(0))
    assert turned.shape == x.shape
    assert not torch.allclose(turned[0], turned[1], atol=1e-3)  # different angles per image
    assert abs(turned.sum().item() - x.sum().item()) / x.sum().item() < 0.1  # same ink, moved


def test_shift_moves_each_image_by_whole_pixels_at_most_the_limit_and_leaves_rotation_draws_alone():
    x = torch.zeros(16, 1, 28, 28)
    x[:, :, 12:16, 12:16] = 1.0  # a square in the middle: its centre of mass shows the move

    def centres(images):
        grid = torch.arange(28.0)
        mass = images[:, 0].sum((1, 2))
        return (images[:, 0].sum(1) * grid).sum(1) / mass, (images[:, 0].sum(2) * grid).sum(1) / mass

    moved = warp(x, 0.0, torch.Generator().manual_seed(0), shift=2.0)
    cx, cy = centres(moved)
    assert (cx - 13.5).abs().max() <= 2.0 + 1e-4 and (cy - 13.5).abs().max() <= 2.0 + 1e-4
    assert (cx - 13.5).abs().max() > 0.5  # it does move them
    # Without a shift, a rotation draws one angle per image and nothing more, as before shifts existed, so
    # recorded runs replay the same batches.
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    warp(x, 10.0, g1, shift=0.0)
    torch.rand(16, generator=g2)
    assert torch.equal(g1.get_state(), g2.get_state())
    warp(x, 10.0, g1, shift=1.0)
    torch.rand(16, generator=g2)
    assert not torch.equal(g1.get_state(), g2.get_state())


def test_an_elastic_warp_bends_images_smoothly_and_draws_nothing_when_off():
    field = elastic_field(500, 28, 1.5, torch.Generator().manual_seed(0))
    assert field.shape == (500, 28, 28, 2)
    assert 0.7 * 1.5 < field.std().item() <= 1.5  # the lattice moves by 1.5 px, the pixels between a little less
    # neighbours move together: their differences are half the moves at most (1.4x for independent moves)
    assert (field[:, 1:] - field[:, :-1]).abs().mean() < 0.5 * field.abs().mean()
    x = torch.zeros(16, 1, 28, 28)
    x[:, :, 6:22, 13:15] = 1.0  # a vertical stroke
    bent = warp(x, 0.0, torch.Generator().manual_seed(0), elastic=1.5)
    assert not torch.allclose(bent, x, atol=1e-2) and not torch.allclose(bent[0], bent[1], atol=1e-2)
    assert abs(bent.sum().item() - x.sum().item()) / x.sum().item() < 0.1  # the same ink, bent
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    warp(x, 10.0, g1, shift=1.0, elastic=0.0)
    torch.rand(16, generator=g2), torch.rand(2, 16, generator=g2)
    assert torch.equal(g1.get_state(), g2.get_state())


def test_nearest_interpolation_rotates_without_blending_pixels_and_draws_the_same_angles():
    x = torch.zeros(8, 1, 28, 28)
    x[:, :, 13:15, 2:26] = 1.0  # a horizontal bar, all ink at full strength
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    nearest = warp(x, 7.0, g1, interpolation="nearest")
    blended = warp(x, 7.0, g2)
    assert set(nearest.unique().tolist()) == {0.0, 1.0}  # each pixel is some pixel of the image
    assert ((blended > 0) & (blended < 1)).any()  # bilinear mixes ink and paper along the edges
    assert torch.equal(g1.get_state(), g2.get_state())  # the same random draws: only the resampling differs
    assert not torch.equal(nearest, x)  # and it does turn the images


def test_a_scale_warp_resizes_images_about_their_centre_and_draws_nothing_when_off():
    x = torch.zeros(64, 1, 28, 28)
    x[:, :, 10:18, 10:18] = 1.0  # an 8x8 square in the middle
    resized = warp(x, 0.0, torch.Generator().manual_seed(0), scale=0.2)
    ink = resized.sum((1, 2, 3)) / x[0].sum()  # area ratio: the factor squared
    assert ink.min() >= 0.8**2 - 0.05 and ink.max() <= 1.2**2 + 0.05
    assert ink.min() < 0.85 and ink.max() > 1.15  # both ways
    grid = torch.arange(28.0)
    centre = (resized[:, 0].sum(1) * grid).sum(1) / resized[:, 0].sum((1, 2))
    assert (centre - 13.5).abs().max() < 0.05  # about the centre, not a corner
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    warp(x, 10.0, g1, scale=0.0)
    torch.rand(64, generator=g2)
    assert torch.equal(g1.get_state(), g2.get_state())  # runs without it replay the same batches


def _moments(images):
    """Centre of mass (row, column) and slant (covariance of row and column over the rows' variance)."""
    x = images.float()
    grid = torch.arange(28.0)
    mass = x.sum((1, 2))
    rows, cols = (x.sum(2) * grid).sum(1) / mass, (x.sum(1) * grid).sum(1) / mass
    dr, dc = grid - rows[:, None], grid - cols[:, None]
    slant = (x * dr[:, :, None] * dc[:, None, :]).sum((1, 2)) / (x.sum(2) * dr**2).sum(1)
    return rows, cols, slant


def test_deskew_stands_a_slanted_stroke_upright_and_centres_it():
    image = torch.zeros(1, 28, 28, dtype=torch.uint8)
    for r in range(6, 22):  # a stroke leaning right by 1 column in 2 rows, off centre
        c = 5 + (21 - r) // 2
        image[0, r, c : c + 3] = 255
    rows, cols, slant = _moments(image)
    assert abs(slant.item()) > 0.4 and abs(cols.item() - 13.5) > 1
    upright = deskew(image)
    assert upright.dtype == torch.uint8 and upright.shape == image.shape
    rows, cols, slant = _moments(upright)
    assert abs(slant.item()) < 0.03
    assert abs(rows.item() - 13.5) < 0.1 and abs(cols.item() - 13.5) < 0.1
    assert abs(upright.float().sum() / image.float().sum() - 1) < 0.02  # sheared, not cut off


def test_deskew_leaves_an_upright_centred_image_and_a_blank_one_alone():
    image = torch.zeros(2, 28, 28, dtype=torch.uint8)
    image[0, 6:22, 12:16] = 255  # upright, centred at 13.5
    assert torch.equal(deskew(image), image)
