"""Checkpoints: everything needed to continue a run exactly, written atomically after every epoch and, within
one, every minute or so (with the epoch's progress), so that a killed run loses little."""

from pathlib import Path

import torch

from xlbackprop.errors import TrainError
from xlbackprop.files import atomic_path
from xlbackprop.train.config import TrainConfig


def default_checkpoint(config: TrainConfig) -> Path:
    return Path("runs") / f"{config.model}-seed{config.seed}" / "last.pt"


def save_checkpoint(path: Path, config, model, optimizer, scheduler, generator, history: list[dict],
                    average=None, progress: dict | None = None, swa=None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "config": config.to_dict(),
        "model": model.state_dict(),
        "average": average.state_dict() if average is not None else None,  # the weights evaluated, with --ema
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "generator": generator.get_state(),
        "torch_rng": torch.get_rng_state(),
        "history": history,
        "progress": progress,  # the unfinished epoch's (loop.EpochProgress); None at an epoch's end
        "swa": swa.state_dict() if swa is not None else None,  # with --swa: the mean of the epochs averaged so far
    }
    with atomic_path(path) as tmp:  # a Ctrl-C mid-write leaves the previous checkpoint whole
        torch.save(state, tmp)


def read_checkpoint(path: Path) -> dict:
    if not path.is_file():
        raise TrainError(f"{path}: no checkpoint to resume from; expected a run started without --resume first")
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises many types for a damaged file
        raise TrainError(f"{path}: cannot read checkpoint ({type(exc).__name__}: {exc})") from None


def evaluated_weights(state: dict) -> dict:
    """The weights a checkpoint's last epoch was evaluated with: SWA's mean once it holds an epoch (its copy is
    saved from the start), else the moving average, else the model's own."""
    if state.get("swa") and state["swa"]["count"]:
        return state["swa"]["weights"]
    if state.get("average"):
        return state["average"]["weights"]
    return state["model"]


def saved_config(path: Path) -> TrainConfig:
    return TrainConfig.from_dict(read_checkpoint(path)["config"])


def load_checkpoint(path: Path, config, model, optimizer, scheduler, generator, average=None, swa=None) -> dict:
    state = read_checkpoint(path)
    if state["config"]["model"] != config.model:
        raise TrainError(f"{path}: checkpoint of model {state['config']['model']}, expected {config.model}")
    try:
        model.load_state_dict(state["model"])
    except RuntimeError:  # the same name, another layout: xl-8k's changed on 2026-12-06
        raise TrainError(f"{path}: checkpoint's weights do not fit model {config.model} as it is built now (saved "
                         "by an older layout); start the run again without --resume") from None
    optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None and state["scheduler"] is not None:
        scheduler.load_state_dict(state["scheduler"])
    if average is not None and state.get("average") is not None:
        average.load_state_dict(state["average"])
    if swa is not None and state.get("swa") is not None:
        swa.load_state_dict(state["swa"])
    generator.set_state(state["generator"])
    torch.set_rng_state(state["torch_rng"])
    return state
