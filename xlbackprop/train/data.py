"""MNIST in memory: a small IDX reader, the torchvision download fallback, and batch-wise augmentation."""

import gzip
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from xlbackprop.errors import DataError

MEAN, STD = 0.1307, 0.3081
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
IMAGES_MAGIC, LABELS_MAGIC = 2051, 2049
DEFAULT_CACHE = Path.home() / ".cache" / "xlbackprop" / "mnist"


@dataclass
class Split:
    images: torch.Tensor  # uint8, N x 28 x 28
    labels: torch.Tensor  # int64, N


@dataclass
class Mnist:
    train: Split
    test: Split


def read_idx(path: Path, magic: int) -> np.ndarray:
    """Read one IDX file (gzipped or raw); check its magic number, dimensions and length."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise DataError(f"{path}: corrupt gzip data ({exc})") from None
    if len(raw) < 8:
        raise DataError(f"{path}: {len(raw)} bytes, expected an IDX header of at least 8")
    found = int.from_bytes(raw[:4], "big")
    if found != magic:
        raise DataError(f"{path}: magic number {found}, expected {magic}")
    ndim = raw[3]
    header = 4 + 4 * ndim
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    if magic == IMAGES_MAGIC and dims[1:] != [28, 28]:
        raise DataError(f"{path}: images of {dims[1:]}, expected 28x28")
    expected = header + math.prod(dims)
    if len(raw) != expected:
        raise DataError(f"{path}: {len(raw)} bytes, expected {expected} for {dims[0]} items of shape {dims[1:]}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array as an IDX file (gzipped when the name ends in .gz): for subsets and tests."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    raw = header + array.tobytes()
    Path(path).write_bytes(gzip.compress(raw, compresslevel=1) if str(path).endswith(".gz") else raw)


def find_file(data_dir: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz"):
        if (data_dir / name).is_file():
            return data_dir / name
    raise DataError(f"{data_dir}: missing {stem}[.gz]; expected the four MNIST files {', '.join(FILES.values())}")


def read_split(data_dir: Path, images_stem: str, labels_stem: str) -> Split:
    images_path, labels_path = find_file(data_dir, images_stem), find_file(data_dir, labels_stem)
    images = read_idx(images_path, IMAGES_MAGIC)
    labels = read_idx(labels_path, LABELS_MAGIC)
    if len(images) != len(labels):
        raise DataError(f"{images_path}: {len(images)} images but {labels_path.name} has {len(labels)} labels")
    if labels.size and labels.max() > 9:
        raise DataError(f"{labels_path}: label {labels.max()}, expected digits 0-9")
    return Split(torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64)))


def load_mnist(data_dir: Path | None = None) -> Mnist:
    """Read MNIST from `data_dir`, or download it into the cache with torchvision when none is given."""
    if data_dir is None:
        data_dir = download(DEFAULT_CACHE)
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataError(f"{data_dir}: not a directory; expected one holding {', '.join(FILES.values())}")
    train = read_split(data_dir, FILES["train_images"], FILES["train_labels"])
    test = read_split(data_dir, FILES["test_images"], FILES["test_labels"])
    return Mnist(train, test)


def download(cache: Path) -> Path:
    raw = cache / "MNIST" / "raw"
    if all((raw / (stem + ".gz")).is_file() or (raw / stem).is_file() for stem in FILES.values()):
        return raw
    from torchvision.datasets import MNIST

    try:
        MNIST(str(cache), train=True, download=True)
        MNIST(str(cache), train=False, download=True)
    except Exception as exc:  # torchvision raises plain RuntimeError/URLError when offline
        raise DataError(
            f"cannot download MNIST ({type(exc).__name__}); put {', '.join(f + '.gz' for f in FILES.values())} "
            f"in {raw} or pass --data-dir DIR"
        ) from None
    return raw


def to_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 N x 28 x 28 -> normalised float N x 1 x 28 x 28."""
    return ((images.float() / 255.0 - MEAN) / STD).unsqueeze(1)


def rotate(x: torch.Tensor, degrees: float, generator: torch.Generator | None = None,
           shift: float = 0.0) -> torch.Tensor:
    """Rotate each image of a batch by its own random angle in [-degrees, degrees], then move it by up to `shift`
    pixels along each axis; corners fill with black."""
    n = x.shape[0]
    angles = (torch.rand(n, generator=generator) * 2 - 1) * math.radians(degrees)
    cos, sin = torch.cos(angles), torch.sin(angles)
    # Drawn only when asked for, so runs without a shift see the same random numbers as before it existed.
    dx, dy = (torch.rand(2, n, generator=generator) * 2 - 1) * (2 * shift / x.shape[-1]) if shift else torch.zeros(2, n)
    theta = torch.stack([torch.stack([cos, -sin, dx], 1), torch.stack([sin, cos, dy], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, align_corners=False, padding_mode="zeros")


def shuffled(n: int, generator=None) -> torch.Tensor:
    """An epoch's order of the images; drawn from `generator` before the epoch's rotations."""
    return torch.randperm(n, generator=generator)


def batches(split: Split, batch_size: int, shuffle: bool, rotation: float = 0.0, generator=None,
            order: torch.Tensor | None = None, skip: int = 0, shift: float = 0.0):
    """Yield (inputs, labels) batches of the in-memory split; rotation and shift are applied to whole batches.

    `order` (default: drawn now when shuffling) and `skip` (batches already trained) let a run resumed
    mid-epoch go on with the same batches: its generator is then restored to where the epoch stopped.
    """
    n = len(split.labels)
    if order is None:
        order = shuffled(n, generator) if shuffle else torch.arange(n)
    for start in range(skip * batch_size, n, batch_size):
        idx = order[start : start + batch_size]
        x = split.images[idx].float().div_(255.0).unsqueeze(1)
        if rotation or shift:
            x = rotate(x, rotation, generator, shift)
        yield x.sub_(MEAN).div_(STD), split.labels[idx]
