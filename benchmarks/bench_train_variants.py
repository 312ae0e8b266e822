"""Why our s6-19k loop runs the way it does on this CPU: steady-state epoch time of each variant of the loop
(eager or compiled by torch.compile, float32 or bfloat16 autocast), measured in interleaved rounds in the same
run, then the throughput of a matmul and of the model's convolutions alone in each number format.

    python benchmarks/bench_train_variants.py [--data-dir ../shared/data/mnist] [--rounds 4] [--batches 80]
                                              [--batch-size 128] [--only-loops] [--breakdown]

Each variant trains on the same fixed batches (rotated as in training); the first batches, which compile,
are not timed. Times are extrapolated to one 60,000-image epoch; the median of the rounds is printed with
each round's time, and the ratio to the eager float32 loop. Other work on the machine slows every variant.

--breakdown instead takes one loop apart (--variant, default eager bf16 where the CPU has bf16: what `auto`
picks on this project's CPU; batch 64, s6-19k's recipe): the loop as trained, the loop as it was before
issue 18's section 4 (the strided 1x1 convolution as nn.Conv2d), then without the optimizer step, without
BatchNorm, without BatchNorm and ReLU, each timed in interleaved rounds on the same batches; then the parts
outside the model: rotating an epoch of batches, averaging the weights (--ema) after every step, and
evaluating 10,000 images.
"""

import argparse
import itertools
import statistics
import time
from pathlib import Path

import torch
from torch import nn

from xlbackprop.train.data import batches, load_mnist
from xlbackprop.train.layers import SubsampledConv2d
from xlbackprop.train.loop import TrainForward, bf16_supported, train_epoch
from xlbackprop.train.models import build_model

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = {"eager float32": (False, False), "eager bf16": (False, True),
            "compiled float32": (True, False), "compiled bf16": (True, True)}


class NoStep(torch.optim.SGD):
    """An optimizer that computes nothing: the loop's time without the weight update."""

    def step(self, closure=None):
        return None


def without(model: nn.Module, *kinds) -> nn.Module:
    return nn.Sequential(*(m for m in model if not isinstance(m, kinds)))


def variant_runner(fixed_batches, batch_size: int, compile_: bool, bf16: bool, model=None, optimizer_class=None):
    torch.manual_seed(1)
    model = model or build_model("s6-19k")
    optimizer = (optimizer_class or torch.optim.SGD)(model.parameters(), lr=0.01, momentum=0.9)
    forward = TrainForward(model, batch_size, compile_)

    def run(n: int) -> float:
        start = time.perf_counter()
        train_epoch(model, fixed_batches[:n], optimizer, None, True, torch.device("cpu"), bf16, 0.0, forward)
        return (time.perf_counter() - start) / n * 60_000 / batch_size

    return run


def matmul_gflops(dtype: torch.dtype, n: int = 1024, reps: int = 10) -> float:
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    start = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n**3 * reps / (time.perf_counter() - start) / 1e9


def convolutions_epoch(dtype: torch.dtype, channels_last: bool, steps: int = 10, batch_size: int = 128) -> float:
    """Seconds per epoch of s6-19k's convolutions alone, forward and backward, without BatchNorm, ReLU, loss,
    optimizer or data: in float32 channels-last (no oneDNN reorders), a floor under any PyTorch loop."""
    layers = [m for m in build_model("s6-19k") if isinstance(m, (nn.Conv2d, nn.AvgPool2d, nn.Flatten, nn.Linear))]
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    convs = nn.Sequential(*layers).to(dtype).to(memory_format=fmt)
    x = torch.randn(batch_size, 1, 28, 28, dtype=dtype).contiguous(memory_format=fmt)
    for _ in range(3):  # oneDNN builds its kernels in the first calls
        convs(x).float().sum().backward()
    start = time.perf_counter()
    for _ in range(steps):
        convs(x).float().sum().backward()
    return (time.perf_counter() - start) / steps * 60_000 / batch_size


def interleaved(runners: dict, rounds: int, n: int) -> dict[str, list[float]]:
    for run in runners.values():
        run(3)  # warm-up; compiles the compiled variants
    times = {name: [] for name in runners}
    for _ in range(rounds):
        for name, run in runners.items():
            times[name].append(run(n))
    return times


def with_strided_pointwise(model: nn.Module) -> nn.Module:
    """The model as it was before: its subsampled 1x1 convolution as a plain strided nn.Conv2d, same weights."""
    for i, m in enumerate(model):
        if isinstance(m, SubsampledConv2d):
            plain = nn.Conv2d(m.in_channels, m.out_channels, 1, stride=m.stride)
            plain.load_state_dict(m.state_dict())
            model[i] = plain
    return model


def breakdown(data, fixed, batch_size: int, rounds: int, n: int, variant: str) -> None:
    from xlbackprop.train.loop import WeightAverage, test

    compile_, bf16 = VARIANTS[variant]
    parts = {
        "as trained": {},
        "before: strided 1x1 conv": dict(model=with_strided_pointwise(build_model("s6-19k"))),
        "without the optimizer step": dict(optimizer_class=NoStep),
        "without BatchNorm": dict(model=without(build_model("s6-19k"), nn.BatchNorm2d)),
        "without BatchNorm and ReLU": dict(model=without(build_model("s6-19k"), nn.BatchNorm2d, nn.ReLU)),
    }
    runners = {name: variant_runner(fixed, batch_size, compile_, bf16, **kw) for name, kw in parts.items()}
    runs = interleaved(runners, rounds, n)
    times = {name: statistics.median(t) for name, t in runs.items()}
    whole = times["as trained"]
    print(f"s6-19k {variant} loop, batch {batch_size}, {torch.get_num_threads()} threads, seconds per epoch (median "
          f"of {rounds}), and what each changed or removed part costs:")
    for name, t in times.items():
        print(f"  {name:28s} {t:5.1f}s  ({' '.join(f'{x:.1f}' for x in runs[name])})" +
              (f"  ({t - whole:+.1f}s)" if name != "as trained" else ""))
    g = torch.Generator().manual_seed(1)
    for rotation in (10.0, 0.0):
        start = time.perf_counter()
        for _ in batches(data.train, batch_size, shuffle=True, rotation=rotation, generator=g):
            pass
        print(f"  batches of one epoch, rotation {rotation:.0f}: {time.perf_counter() - start:5.2f}s")
    model = build_model("s6-19k")
    average = WeightAverage(model, 0.99)
    start = time.perf_counter()
    for _ in range(-(-60_000 // batch_size)):
        average.update()
    print(f"  weight averaging after every step of one epoch: {time.perf_counter() - start:5.2f}s")
    start = time.perf_counter()
    test(model, data.test, torch.device("cpu"), bf16)
    print(f"  evaluating the 10,000 test images: {time.perf_counter() - start:5.2f}s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data" / "mnist")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--batches", type=int, default=80, help="timed batches of 128 images (or as many "
                        "images in batches of --batch-size) per variant and round")
    parser.add_argument("--batch-size", type=int, default=64, help="images per step (default: s6-19k's recipe)")
    parser.add_argument("--only-loops", action="store_true", help="skip the matmul and convolution timings")
    parser.add_argument("--breakdown", action="store_true", help="what each part of one loop costs")
    parser.add_argument("--variant", choices=list(VARIANTS), help="the loop --breakdown takes apart (default: eager "
                        "bf16 where the CPU has bf16, else eager float32)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = load_mnist(args.data_dir)
    g = torch.Generator().manual_seed(1)
    n = max(1, args.batches * 128 // args.batch_size)
    fixed = list(itertools.islice(batches(data.train, args.batch_size, shuffle=True, rotation=10.0, generator=g), n))

    if args.breakdown:
        variant = args.variant or ("eager bf16" if bf16_supported(torch.device("cpu")) else "eager float32")
        return breakdown(data, fixed, args.batch_size, args.rounds, n, variant)
    runners = {name: variant_runner(fixed, args.batch_size, c, b) for name, (c, b) in VARIANTS.items()}
    times = interleaved(runners, args.rounds, n)
    base = statistics.median(times["eager float32"])
    print(f"s6-19k loop, batch {args.batch_size}, {torch.get_num_threads()} threads, seconds per epoch (median of {args.rounds}):")
    for name, t in times.items():
        med = statistics.median(t)
        print(f"  {name:17s} {med:5.1f}s  ({' '.join(f'{x:.1f}' for x in t)})  {base / med:.2f}x eager float32")
    if args.only_loops:
        return

    print("1024x1024 matmul, GFLOP/s:  " + "  ".join(
        f"{str(dt).split('.')[1]} {matmul_gflops(dt):.0f}" for dt in (torch.float32, torch.bfloat16, torch.float16)))
    print("convolutions alone (forward+backward), seconds per epoch:")
    for dt in (torch.float32, torch.bfloat16):
        print(f"  {str(dt).split('.')[1]:8s}  NCHW {convolutions_epoch(dt, False):5.1f}s  "
              f"channels-last {convolutions_epoch(dt, True):5.1f}s")
    print(f"  float16   NCHW {convolutions_epoch(torch.float16, False, steps=1):5.1f}s  (one batch timed)")


if __name__ == "__main__":
    main()
