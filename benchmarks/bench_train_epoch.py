"""One training epoch of s6-19k on the full 60,000 images: this project's loop as `xlbackprop train` runs it
(whole data set in memory, rotation applied to whole batches, the training forward compiled by torch.compile
when a C++ compiler is found, bfloat16 only where `--bf16 auto` picks it) against the course's usual loop
(torchvision MNIST, per-image RandomRotation/ToTensor/Normalize, DataLoader batch 128 with 2 workers, float32),
measured in the same run on the same machine, same model, same initial weights and same schedule.

    python benchmarks/bench_train_epoch.py [--data-dir ../shared/data/mnist] [--to-target] [--compile off] [--bf16 off]

Prints both epoch times, the ratio and the test accuracy after that epoch; compiling happens once per run, on
one warm-up batch whose weight changes are undone, and its time is printed apart. With --to-target, each loop
trains (OneCycle over the s6-19k recipe's epochs) until it holds 99.4% (minimum over its last 3 epochs) and the
time each took, compilation included, is printed; without it, the time to 99.4% held is estimated as (epochs
the latest s6-19k run in workbooks/summary.xlsx needed) x epoch time.
"""

import argparse
import os
import gzip
import tempfile
import time
from pathlib import Path

import torch

from xlbackprop.train.config import config_for
from xlbackprop.train.data import FILES, Split, batches, load_mnist
from xlbackprop.train.loop import TrainForward, resolve_bf16, resolve_compile, test, train_epoch
from xlbackprop.train.models import build_model

from bench_train_variants import convolutions_epoch  # the script beside this one

ROOT = Path(__file__).resolve().parents[1]
TARGET = 99.4
RECIPE = config_for("s6-19k")
BATCH, LR, LABEL_SMOOTHING, MAX_EPOCHS = RECIPE.batch_size, RECIPE.lr, RECIPE.label_smoothing, RECIPE.epochs
ROTATION = 7.0  # the course's RandomRotation((-7, 7)), for both loops


def course_loader(raw_dir: Path, root: Path):
    """The course's usual pipeline; torchvision wants the four files unzipped under ROOT/MNIST/raw."""
    from torchvision import datasets, transforms

    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for stem in FILES.values():
        src = raw_dir / (stem + ".gz")
        (raw / stem).write_bytes(gzip.decompress(src.read_bytes()) if src.exists() else (raw_dir / stem).read_bytes())
    transform = transforms.Compose([transforms.RandomRotation((-7, 7)), transforms.ToTensor(),
                                    transforms.Normalize((0.1307,), (0.3081,))])
    dataset = datasets.MNIST(str(root), train=True, download=False, transform=transform)
    return torch.utils.data.DataLoader(dataset, batch_size=BATCH, shuffle=True, num_workers=2)


def trainer(epochs: int):
    torch.manual_seed(1)  # the same initial weights for both loops
    model = build_model("s6-19k")
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=LR, total_steps=epochs * -(-60_000 // BATCH))
    return model, optimizer, scheduler


def warm_up(model, forward, x: torch.Tensor) -> float:
    """Compile the forward and backward on one batch, then undo what that batch changed; returns seconds."""
    state = {k: v.clone() for k, v in model.state_dict().items()}
    start = time.perf_counter()
    forward(x).sum().backward()
    model.load_state_dict(state)
    model.zero_grad(set_to_none=True)
    return time.perf_counter() - start


def time_loop(name: str, make_batches, bf16: bool, compile_: bool, test_split: Split, epochs: int):
    """Train `epochs` epochs (stopping early once 99.4% is held); returns per-epoch seconds, accuracies and
    the seconds spent compiling."""
    model, optimizer, scheduler = trainer(epochs)
    forward = TrainForward(model, BATCH, compile_)
    compile_seconds = warm_up(model, forward, torch.randn(BATCH, 1, 28, 28)) if compile_ else 0.0
    if compile_:
        print(f"  {name}: compiling took {compile_seconds:.1f}s (once per run)", flush=True)
    seconds, accs = [], []
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        train_epoch(model, make_batches(), optimizer, scheduler, True, torch.device("cpu"), bf16, LABEL_SMOOTHING,
                    forward)
        seconds.append(time.perf_counter() - start)
        accs.append(test(model, test_split, torch.device("cpu"), bf16)[1])
        print(f"  {name}: epoch {epoch} {seconds[-1]:6.1f}s  test acc {accs[-1]:.2f}%", flush=True)
        if epochs > 1 and len(accs) >= 3 and min(accs[-3:]) >= TARGET:
            break
    return seconds, accs, compile_seconds


def epochs_to_target_in_report(report: Path) -> int | None:
    """Epochs the latest recorded s6-19k run needed before its last 3 test accuracies were all >= 99.4%."""
    from openpyxl import load_workbook

    if not report.is_file():
        return None
    wb = load_workbook(report, read_only=True)
    for name in reversed(wb.sheetnames):  # the latest run, made with the current recipe
        if name.endswith("-s6-19k"):
            accs = [row[4] for row in wb[name].iter_rows(min_row=2, values_only=True) if isinstance(row[0], int)]
            for n in range(3, len(accs) + 1):
                if min(accs[n - 3 : n]) >= TARGET:
                    return n
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data" / "mnist")
    parser.add_argument("--to-target", action="store_true", help=f"train each loop until it holds {TARGET}%%")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--compile", choices=["auto", "on", "off"], default="auto",
                        help="for our loop; auto compiles as a full `xlbackprop train` run would")
    parser.add_argument("--bf16", choices=["auto", "on", "off"], default="auto", help="for our loop, as in train")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = load_mnist(args.data_dir)
    cpu = torch.device("cpu")
    compile_ = resolve_compile(args.compile, cpu, False, RECIPE.epochs * -(-60_000 // BATCH))
    bf16 = resolve_bf16(args.bf16, cpu, compile_)
    epochs = MAX_EPOCHS if args.to_target else 1
    generator = torch.Generator().manual_seed(1)
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (other work slows both loops)")
    print(f"s6-19k, batch {BATCH}, SGD momentum 0.9, OneCycle max lr {LR} over {epochs} epoch(s), label smoothing "
          f"{LABEL_SMOOTHING}, {torch.get_num_threads()} threads; ours: bf16 {'on' if bf16 else 'off'}, "
          f"compiled {'yes' if compile_ else 'no'}")

    with tempfile.TemporaryDirectory() as tmp:
        loader = course_loader(args.data_dir, Path(tmp))
        base_s, base_acc, _ = time_loop("course", lambda: loader, False, False, data.test, epochs)
    ours_s, ours_acc, ours_compile = time_loop(
        "ours", lambda: batches(data.train, BATCH, shuffle=True, rotation=ROTATION, generator=generator),
        bf16, compile_, data.test, epochs)

    print(f"epoch time   course {base_s[0]:.1f}s   ours {ours_s[0]:.1f}s   ratio course/ours {base_s[0] / ours_s[0]:.2f}")
    print(f"test acc after epoch 1   course {base_acc[0]:.2f}%   ours {ours_acc[0]:.2f}%")
    floor = convolutions_epoch(torch.float32, channels_last=True, steps=40, batch_size=BATCH)
    print(f"convolutions alone (float32, channels-last, no BatchNorm/ReLU/optimizer/data) {floor:.1f}s per epoch: "
          f"course/that = {base_s[0] / floor:.2f}x, the ratio if everything else cost nothing")
    if args.to_target:
        for name, s, accs, extra in (("course", base_s, base_acc, 0.0), ("ours", ours_s, ours_acc, ours_compile)):
            reached = len(accs) >= 3 and min(accs[-3:]) >= TARGET
            print(f"{name}: {'held' if reached else 'did NOT hold'} {TARGET}% after {len(accs)} epochs, "
                  f"{sum(s) + extra:.0f}s (held {min(accs[-3:]):.2f}%)")
    else:
        n = epochs_to_target_in_report(ROOT / "workbooks" / "summary.xlsx")
        if n is None:
            print(f"time to {TARGET}% held: no s6-19k run in workbooks/summary.xlsx held {TARGET}% to take its epochs from")
        else:
            print(f"time to {TARGET}% held (estimate: {n} epochs, as the latest recorded s6-19k run needed, x epoch time)"
                  f"   course {n * base_s[0]:.0f}s   ours {n * ours_s[0] + ours_compile:.0f}s (compiling included)")


if __name__ == "__main__":
    main()
