"""What averaging several runs' predictions would hold: each run's accuracy, every pair's and all of them
together, on the images the runs were evaluated on (the validation split their checkpoints name, else the test
set). An ensemble is not a model the course allows (its parameters add up), but the gap between one run and a
pair shows how much of the seed-to-seed spread a single model could still gain from averaging.

    python benchmarks/ensemble_ceiling.py --data-dir ../shared/data/mnist runs/s6-22k-seed1/last.pt ...

Each checkpoint's evaluated weights are used (the moving average or SWA mean when the run had one), in float32.
"""

import argparse
import itertools
import statistics
from pathlib import Path

import torch

from xlbackprop.train.checkpoint import evaluated_weights, read_checkpoint
from xlbackprop.train.config import TrainConfig
from xlbackprop.train.data import load_mnist, to_input
from xlbackprop.train.loop import splits
from xlbackprop.train.models import build_model


def probabilities(path: Path, data) -> tuple[torch.Tensor, torch.Tensor]:
    state = read_checkpoint(path)
    config = TrainConfig.from_dict(state["config"])
    model = build_model(config.model, config.dropout)
    model.load_state_dict(evaluated_weights(state))
    _, evaluated, _ = splits(data, config)
    with torch.no_grad():
        return model.eval()(to_input(evaluated.images)).softmax(1), evaluated.labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoints", nargs="+", type=Path)
    parser.add_argument("--data-dir", type=Path, help="MNIST IDX files [default: the download cache]")
    args = parser.parse_args()
    data = load_mnist(args.data_dir)
    runs = {path: probabilities(path, data) for path in args.checkpoints}
    labels = next(iter(runs.values()))[1]
    if any(not torch.equal(y, labels) for _, y in runs.values()):
        raise SystemExit("ensemble_ceiling: the checkpoints were evaluated on different images")

    def accuracy(paths) -> float:
        return (sum(runs[p][0] for p in paths).argmax(1) == labels).float().mean().item() * 100

    for path in runs:
        print(f"{accuracy([path]):.2f}%  {path}")
    singles = [accuracy([p]) for p in runs]
    print(f"one run:  median {statistics.median(singles):.2f}%, {min(singles):.2f}-{max(singles):.2f}%")
    if len(runs) > 1:
        pairs = [accuracy(pair) for pair in itertools.combinations(runs, 2)]
        print(f"pairs:    median {statistics.median(pairs):.2f}%, {min(pairs):.2f}-{max(pairs):.2f}%")
        print(f"all {len(runs)}:    {accuracy(list(runs)):.2f}%")


if __name__ == "__main__":
    main()
