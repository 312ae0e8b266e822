"""MNIST in memory: a small IDX reader, the torchvision download fallback, and batch-wise augmentation."""

import functools
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
ELASTIC_LATTICE = 6  # control points per side of an elastic warp: a bend every ~5 pixels of a 28-pixel image
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


def warp(x: torch.Tensor, degrees: float, generator: torch.Generator | None = None, shift: float = 0.0,
         elastic: float = 0.0, interpolation: str = "bilinear", scale: float = 0.0) -> torch.Tensor:
    """Rotate each image of a batch by its own random angle in [-degrees, degrees], move it by up to `shift`
    pixels along each axis, resize it by a random factor in [1 - scale, 1 + scale] about its centre, and bend it
    by a smooth random displacement field (elastic_field, `elastic` pixels); corners fill with black.
    `interpolation` "nearest" keeps every pixel's value, as torchvision's RandomRotation does by default;
    "bilinear" blends neighbours, which softens the strokes a little at every angle but 0."""
    n, size = x.shape[0], x.shape[-1]
    angles = (torch.rand(n, generator=generator) * 2 - 1) * math.radians(degrees)
    cos, sin = torch.cos(angles), torch.sin(angles)
    # Each kind is drawn only when asked for, so runs without it see the same random numbers as before it existed.
    dx, dy = (torch.rand(2, n, generator=generator) * 2 - 1) * (2 * shift / size) if shift else torch.zeros(2, n)
    if scale:  # theta maps output to input coordinates, so a factor s shows the image s times as large
        factor = 1 + (torch.rand(n, generator=generator) * 2 - 1) * scale
        cos, sin = cos / factor, sin / factor
    theta = torch.stack([torch.stack([cos, -sin, dx], 1), torch.stack([sin, cos, dy], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    if elastic:
        grid = grid + elastic_field(n, size, elastic, generator) * (2 / size)  # pixels to grid units
    return F.grid_sample(x, grid, mode=interpolation, align_corners=False, padding_mode="zeros")


def deskew(images: torch.Tensor) -> torch.Tensor:
    """Each image sheared along its rows so that its strokes stand upright, and moved so that its centre of mass
    is the image's centre (uint8 N x 28 x 28 in and out). The shear is the image's own covariance of row and
    column over its variance along rows, from its pixel moments (LeCun et al., 1998, list MNIST's classifiers
    with and without it). It depends on the image alone, so training and test images are treated alike."""
    x = images.float() / 255.0
    n, size = x.shape[0], x.shape[-1]
    coords = torch.arange(size, dtype=torch.float32)
    mass = x.sum((1, 2)).clamp_min(1e-6)
    rows, cols = (x.sum(2) * coords).sum(1) / mass, (x.sum(1) * coords).sum(1) / mass
    dr, dc = coords - rows[:, None], coords - cols[:, None]
    var_rows = (x.sum(2) * dr**2).sum(1) / mass
    cov = (x * dr[:, :, None] * dc[:, None, :]).sum((1, 2)) / mass
    alpha = torch.where(var_rows > 1e-6, cov / var_rows.clamp_min(1e-6), torch.zeros_like(cov))
    centre = (size - 1) / 2
    # theta maps output to input in units of half the image (affine_grid): column_in = column_out + alpha *
    # (row_out - centre) + (centroid column - centre), row_in = row_out + (centroid row - centre).
    zeros, ones = torch.zeros(n), torch.ones(n)
    theta = torch.stack([torch.stack([ones, alpha, (cols - centre) * 2 / size], 1),
                         torch.stack([zeros, ones, (rows - centre) * 2 / size], 1)], 1)
    grid = F.affine_grid(theta, [n, 1, size, size], align_corners=False)
    out = F.grid_sample(x.unsqueeze(1), grid, mode="bilinear", align_corners=False, padding_mode="zeros")
    return out.squeeze(1).mul(255.0).round().clamp(0, 255).to(torch.uint8)


def elastic_field(n: int, size: int, pixels: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """n smooth random displacement fields (n x size x size x 2, in pixels): the points of a coarse lattice move
    by `pixels` (standard deviation), the pixels between them by interpolation (0.83x that on average). Simard
    et al. (2003) get such a field by blurring per-pixel noise; the lattice costs a fraction of that."""
    coarse = torch.randn(n, 2, ELASTIC_LATTICE, ELASTIC_LATTICE, generator=generator) * pixels
    m = lattice_weights(size)  # bicubic interpolation is separable: one small matrix per axis
    return (m @ coarse @ m.T).permute(0, 2, 3, 1).contiguous()  # grid_sample is slower on a strided grid


@functools.lru_cache(maxsize=4)
def lattice_weights(size: int) -> torch.Tensor:
    """size x ELASTIC_LATTICE: row a holds the bicubic weights of the lattice points for pixel a (align_corners)."""
    # Each lattice point's own interpolation, read off one column of images constant along the other axis
    basis = torch.eye(ELASTIC_LATTICE).reshape(ELASTIC_LATTICE, 1, ELASTIC_LATTICE, 1).expand(-1, -1, -1, 4)
    return F.interpolate(basis, size=(size, 4), mode="bicubic", align_corners=True)[:, 0, :, 0].T.contiguous()


def shuffled(n: int, generator=None) -> torch.Tensor:
    """An epoch's order of the images; drawn from `generator` before the epoch's rotations."""
    return torch.randperm(n, generator=generator)


def batches(split: Split, batch_size: int, shuffle: bool, rotation: float = 0.0, generator=None,
            order: torch.Tensor | None = None, skip: int = 0, shift: float = 0.0, elastic: float = 0.0,
            interpolation: str = "bilinear", scale: float = 0.0):
    """Yield (inputs, labels) batches of the in-memory split, warped (rotation, shift, scale, elastic) a whole
    batch at a time.

    `order` (default: drawn now when shuffling) and `skip` (batches already trained) let a run resumed
    mid-epoch go on with the same batches: its generator is then restored to where the epoch stopped.
    """
    n = len(split.labels)
    if order is None:
        order = shuffled(n, generator) if shuffle else torch.arange(n)
    for start in range(skip * batch_size, n, batch_size):
        idx = order[start : start + batch_size]
        x = split.images[idx].float().div_(255.0).unsqueeze(1)
        if rotation or shift or elastic or scale:
            x = warp(x, rotation, generator, shift, elastic, interpolation, scale)
        yield x.sub_(MEAN).div_(STD), split.labels[idx]
