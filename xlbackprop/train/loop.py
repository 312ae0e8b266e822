"""The training loop, pytorch/examples style: explicit train_epoch and test functions, one run() around them."""

import copy
import logging
import math
import os
import shutil
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import torch
import torch.nn.functional as F

from xlbackprop.errors import TrainError
from xlbackprop.train.checkpoint import load_checkpoint, save_checkpoint
from xlbackprop.train.config import TrainConfig
from xlbackprop.train.data import Mnist, Split, batches, deskew, shuffled
from xlbackprop.train.models import build_model, count_params, get_spec
from xlbackprop.train.targets import held


@dataclass
class EpochMetrics:
    epoch: int
    train_loss: float
    train_acc: float
    test_loss: float
    test_acc: float
    seconds: float
    lr: float


@dataclass
class RunResult:
    config: TrainConfig
    params: int
    device: str
    bf16: bool
    history: list[EpochMetrics] = field(default_factory=list)
    compiled: bool = False
    compile_error: str = ""  # why compiling failed, when auto then trained eagerly
    evaluated_on: str = "test"  # or "validation": the held-out last `val_split` training images
    variant_note: str = ""  # how auto chose compiled/bf16 (measured, cached or by rule), one line
    predicted_epoch: float = 0.0  # seconds per epoch the timing of the variants predicts; 0: not timed
    compiled_already: bool = False  # the timing compiled the forward trained with: the first batch does not

    @property
    def held_acc(self) -> float:
        """The accuracy the model holds (targets.held): the minimum over the last 3 epochs, not the best one."""
        return held([m.test_acc for m in self.history])

    @property
    def train_seconds(self) -> float:
        return sum(m.seconds for m in self.history)

    def targets_met(self) -> bool:
        """Checked on the test set only: a validation run's accuracy is for choosing recipes."""
        if self.evaluated_on != "test":
            return False
        return get_spec(self.config.model).targets.met(self.held_acc, self.params, len(self.history))


def resolve_device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise TrainError("device cuda requested but no CUDA device is available; expected --device cpu or auto")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def bf16_supported(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()


def resolve_bf16(setting: str, device: torch.device, compiled: bool = False) -> bool:
    """The rule `auto` follows where nothing is measured (--deterministic runs; calibrate.py measures the
    others): bfloat16 on CUDA and AMX CPUs. On CPUs with only AVX512-BF16 it helps the eager loop (it halves
    the bytes of oneDNN's layout reorders) but the compiled float32 loop beat every bf16 variant there."""
    supported = bf16_supported(device)
    if device.type == "cuda":
        faster = supported
    else:
        faster = torch.cpu._is_amx_tile_supported() or (supported and not compiled)
    if setting == "on" and not supported:
        raise TrainError(f"bfloat16 requested but {device.type} does not support it; expected --bf16 auto or off")
    return faster if setting == "auto" else setting == "on"


def autocast(device: torch.device, bf16: bool):
    return torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else nullcontext()


# Compiling costs ~3-20 s once (inductor's cache warm or cold) and saved ~10-20 ms per step on this project's
# 2-core CPU; below this many steps it is not even worth timing (calibrate.py decides above it).
COMPILE_MIN_STEPS = 500


def compiler_available(device: torch.device) -> bool:
    """torch.compile's inductor needs a C++ compiler to build CPU kernels, triton for CUDA ones."""
    if device.type == "cuda":
        import importlib.util

        return importlib.util.find_spec("triton") is not None
    return any(shutil.which(c) for c in (os.environ.get("CXX", "g++"), "c++", "clang++"))


def resolve_compile(setting: str, device: torch.device, deterministic: bool, total_steps: int) -> bool:
    """auto may compile long, non-deterministic runs when a compiler is there; short runs would not repay it."""
    available = compiler_available(device)
    if setting == "on" and not available:
        tool = "triton" if device.type == "cuda" else "a C++ compiler (g++)"
        raise TrainError(f"--compile on needs {tool} on PATH, none found; expected --compile auto or off")
    if setting == "auto":
        return available and not deterministic and total_steps >= COMPILE_MIN_STEPS
    return setting == "on"


class TrainForward:
    """The model's forward pass for training batches, compiled by torch.compile when asked.

    Only full batches go through the compiled graph: the epoch's smaller last batch runs eagerly rather than
    costing a second compilation for its shape. Compilation happens at the first full batch; if it fails (a
    broken C++ toolchain), `strict` raises TrainError, otherwise training goes on eagerly and `error` says why.
    """

    def __init__(self, model: torch.nn.Module, batch_size: int, compile_: bool, strict: bool = False):
        self.model, self.batch_size, self.strict = model, batch_size, strict
        self.error, self.first = "", True
        # Inductor imports cpp_extension, which warns "No CUDA runtime is found" on every CPU-only machine.
        logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
        self.compiled = torch.compile(model, dynamic=False) if compile_ else None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.compiled is None or len(x) != self.batch_size:
            return self.model(x)
        if not self.first:
            return self.compiled(x)
        self.first = False
        try:
            return self.compiled(x)
        except Exception as exc:  # inductor's errors (InvalidCxxCompiler, ...) share no public base class
            self.error = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if self.strict:
                raise TrainError(f"torch.compile failed: {self.error}; expected a working C++ compiler, "
                                 "or --compile off") from None
            self.compiled = None
            return self.model(x)


class WeightAverage:
    """An exponential moving average of a model's weights and BatchNorm statistics, the model that is evaluated
    when `--ema` is set. Averaging the last few hundred steps removes most of the noise of a high learning rate,
    so a short run is accurate epochs earlier (airbench and timm's ModelEma do the same)."""

    def __init__(self, model: torch.nn.Module, decay: float):
        self.model = copy.deepcopy(model).requires_grad_(False)
        self.decay, self.updates = decay, 0
        # state_dict() tensors share storage with the live ones, which the optimizer updates in place
        pairs = list(zip(self.model.state_dict().values(), model.state_dict().values()))
        self.floats = [p for p in pairs if p[0].is_floating_point()]
        self.others = [p for p in pairs if not p[0].is_floating_point()]  # BatchNorm's batch counters

    @torch.no_grad()
    def update(self) -> None:
        self.updates += 1
        # Early on, average over the few steps there are rather than weighting the random initial weights
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        torch._foreach_lerp_([a for a, _ in self.floats], [b for _, b in self.floats], 1.0 - decay)
        for a, b in self.others:
            a.copy_(b)

    def state_dict(self) -> dict:
        return {"weights": self.model.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["weights"])
        self.updates = state["updates"]


SWA_BN_IMAGES = 10_000


class EpochAverage:
    """Stochastic weight averaging (Izmailov et al., 2018), the model evaluated in the last `--swa` epochs: the mean
    of the weights at the end of each of those epochs, which train at a constant rate, with BatchNorm's statistics
    measured again for the mean on the training images (the mean of the statistics is not the mean model's)."""

    def __init__(self, model: torch.nn.Module):
        self.model = copy.deepcopy(model).requires_grad_(False)
        self.count = 0

    @torch.no_grad()
    def add(self, model: torch.nn.Module, split: Split, device, bf16: bool) -> None:
        self.count += 1
        for mean, live in zip(self.model.parameters(), model.parameters()):
            mean.lerp_(live, 1.0 / self.count)
        norms = [m for m in self.model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
        momenta = [m.momentum for m in norms]
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # a plain mean over the batches below
        self.model.train()
        # The first SWA_BN_IMAGES training images, in the precision the model is evaluated in: the statistics of
        # all 50,000 in float32 cost 20 s an epoch on 2 cores (runs 195-196), the test pass 1 s.
        sample = Split(split.images[:SWA_BN_IMAGES], split.labels[:SWA_BN_IMAGES])
        for x, _ in batches(sample, 512, shuffle=False):
            with autocast(device, bf16):
                self.model(x.to(device))
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum

    def state_dict(self) -> dict:
        return {"weights": self.model.state_dict(), "count": self.count}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["weights"])
        self.count = state["count"]


def make_optimizer(config: TrainConfig, model: torch.nn.Module) -> torch.optim.Optimizer:
    # fused: one kernel for all the parameters; s6-19k's SGD step 0.25 -> 0.07 ms on this project's 2-core CPU
    if config.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay, fused=True)
    return torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum, nesterov=config.nesterov,
                           weight_decay=config.weight_decay, fused=True)


def make_scheduler(config: TrainConfig, optimizer, steps_per_epoch: int):
    """Returns (scheduler, per_batch): OneCycle steps after every batch, the step schedule after every epoch."""
    if config.schedule == "onecycle":
        total = (config.epochs - config.swa) * steps_per_epoch  # the --swa epochs after it keep a constant rate
        # torch's OneCycleLR divides by zero when the warm-up is exactly one step (5 steps at 0.2) and peaks
        # before the first step when it is less; a run that short (a smoke test) warms up for two steps instead.
        warmup = max(config.warmup, 2 / total) if total >= 3 else 0.25
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, total_steps=total,
                                                   pct_start=warmup, cycle_momentum=config.cycle_momentum,
                                                   div_factor=config.div_factor,
                                                   final_div_factor=config.final_div_factor), True
    if config.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=config.step_size, gamma=config.gamma), False
    return None, False


@dataclass
class EpochProgress:
    """How far the current epoch has come: what a mid-epoch checkpoint needs to go on with the same batches and
    the same epoch totals."""

    epoch: int
    order: torch.Tensor  # the epoch's order of the training images
    lr: float  # the rate at the epoch's start, which its log line shows
    steps: int = 0  # batches trained
    loss_sum: float = 0.0
    correct: int = 0
    seen: int = 0
    seconds: float = 0.0  # spent on this epoch before the run was resumed


class SharpnessAware:
    """Sharpness-aware minimization (Foret et al., 2021): after the usual backward pass, the weights move `rho`
    (in L2 norm) along their gradient, toward the steepest rise of the loss nearby, the gradient is taken again
    there, and the weights move back; the optimizer then steps with that second gradient, which favours flat
    minima. It costs a second forward and backward pass per step. BatchNorm's running statistics are kept from
    the first pass: the moved weights are not the model's."""

    def __init__(self, model: torch.nn.Module, rho: float):
        self.rho = rho
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.stats = [b for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
                      for b in m.buffers()]

    def regrad(self, loss_at_moved: Callable[[], torch.Tensor]) -> None:
        with torch.no_grad():
            params = [p for p in self.params if p.grad is not None]
            grads = [p.grad for p in params]
            norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
            moves = torch._foreach_mul(grads, (self.rho / (norm + 1e-12)).item())
            kept = [b.clone() for b in self.stats]
            torch._foreach_add_(params, moves)
        for p in params:
            p.grad = None
        loss_at_moved().backward()
        with torch.no_grad():
            torch._foreach_sub_(params, moves)
            for b, old in zip(self.stats, kept):
                b.copy_(old)


def train_epoch(model, batch_iter: Iterable, optimizer, scheduler, per_batch: bool, device, bf16: bool,
                label_smoothing: float = 0.0, forward: Callable | None = None,
                average: WeightAverage | None = None, progress: EpochProgress | None = None,
                after_step: Callable[[], None] = lambda: None,
                sharpness: SharpnessAware | None = None) -> tuple[float, float]:
    """One pass over the training batches; returns (mean loss, accuracy in percent).

    `forward` (default: the model itself) computes the logits, e.g. a TrainForward that compiles the model;
    `average`, when given, follows the weights after every step. `progress`, when given, holds the totals of
    the batches an interrupted run already trained, and is brought up to date before each `after_step` call.
    `sharpness`, when given, replaces each step's gradient by the sharpness-aware one.
    """
    model.train()
    forward = forward or model
    progress = progress or EpochProgress(0, torch.empty(0), 0.0)
    total_loss, correct, seen = progress.loss_sum, progress.correct, progress.seen
    for x, y in batch_iter:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        def loss_of(x=x, y=y):
            with autocast(device, bf16):
                logits = forward(x)
            return logits, F.cross_entropy(logits.float(), y, label_smoothing=label_smoothing)

        logits, loss = loss_of()
        value = loss.item()
        if not math.isfinite(value):  # every later step would be NaN too: say so now, not after the run
            raise TrainError(f"training diverged: the loss was {value} at batch {progress.steps + 1} of epoch "
                             f"{progress.epoch} (learning rate {optimizer.param_groups[0]['lr']:.4g}); expected a "
                             "finite loss: try a lower --lr, or more batches (--epochs, --train-limit) to warm up in")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if sharpness is not None:
            sharpness.regrad(lambda: loss_of()[1])
        optimizer.step()
        if average is not None:
            average.update()
        if scheduler is not None and per_batch:
            scheduler.step()
        total_loss += value * len(y)
        correct += (logits.argmax(1) == y).sum().item()
        seen += len(y)
        progress.steps += 1
        progress.loss_sum, progress.correct, progress.seen = total_loss, correct, seen
        after_step()
    if scheduler is not None and not per_batch:
        scheduler.step()
    return total_loss / seen, 100.0 * correct / seen


@torch.no_grad()
def test(model, split: Split, device, bf16: bool, batch_size: int = 256) -> tuple[float, float]:
    """Loss and accuracy (percent) on a split, without augmentation; for reporting only. Batches of 256, not
    1,000: the first layers' activations then stay in the CPU's caches (10,000 images in float32 on 2 cores:
    3.0 s -> 1.0 s, `python benchmarks/bench_train_variants.py --breakdown`)."""
    model.eval()
    total_loss, correct = 0.0, 0
    for x, y in batches(split, batch_size, shuffle=False):
        x, y = x.to(device), y.to(device)
        with autocast(device, bf16):
            logits = model(x).float()
        total_loss += F.cross_entropy(logits, y, reduction="sum").item()
        correct += (logits.argmax(1) == y).sum().item()
    n = len(split.labels)
    return total_loss / n, 100.0 * correct / n


def limit(split: Split, n: int) -> Split:
    return split if n <= 0 else Split(split.images[:n], split.labels[:n])


def splits(data: Mnist, config: TrainConfig) -> tuple[Split, Split, str]:
    """(training images, images each epoch is evaluated on, which those are). With `val_split` N the last N
    training images are held out and evaluated instead of the test set, which is then not looked at: recipes
    are chosen on them, and only confirmed on the test set."""
    train, test_ = data.train, data.test
    if config.deskew:
        train, test_ = Split(deskew(train.images), train.labels), Split(deskew(test_.images), test_.labels)
    if config.val_split:
        n = len(train.labels)
        if config.val_split >= n:
            raise TrainError(f"validation split of {config.val_split:,} images leaves none of the {n:,} training "
                             "images to train on; expected fewer, e.g. 10000")
        keep = n - config.val_split
        train, test_ = Split(train.images[:keep], train.labels[:keep]), Split(train.images[keep:], train.labels[keep:])
    evaluated_on = "validation" if config.val_split else "test"
    return limit(train, config.train_limit), limit(test_, config.test_limit), evaluated_on


# A run killed mid-epoch loses at most this much training; saving s6-19k's checkpoint takes milliseconds.
CHECKPOINT_EVERY = 60.0


def run(config: TrainConfig, data: Mnist, checkpoint: Path, resume: bool = False,
        wrap_batches: Callable[[Iterable, int, int, int], Iterable] = lambda it, total, epoch, done: it,
        on_epoch: Callable[[EpochMetrics], None] = lambda m: None,
        on_start: Callable[["RunResult"], None] = lambda r: None,
        on_measure: Callable[[list[str]], None] = lambda names: None,
        checkpoint_every: float = CHECKPOINT_EVERY) -> RunResult:
    """Train `config.model`, saving `checkpoint` after every epoch and every `checkpoint_every` seconds within
    one; with `resume`, continue from it, mid-epoch included, as if the run had not stopped.

    The test set only feeds the report: no epoch or checkpoint is chosen by test accuracy. `on_measure` is
    told the variants `auto` is about to time (calibrate.py), before it does. `wrap_batches` gets the batches
    still to train in the epoch, the epoch's number of batches, the epoch and how many batches were trained
    before a resume.
    """
    from xlbackprop.train.calibrate import choose_variant  # it builds on this module

    torch.set_num_threads(config.threads)
    torch.use_deterministic_algorithms(config.deterministic)
    device = resolve_device(config.device)
    train_split, test_split, evaluated_on = splits(data, config)
    steps = -(-len(train_split.labels) // config.batch_size)
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    model = build_model(config.model, config.dropout).to(device)
    # Timed on this run's model, which it gives back untouched, so the chosen variant's compile is kept.
    variant = choose_variant(config, device, steps * config.epochs, on_measure=on_measure, model=model)
    bf16 = variant.bf16

    optimizer = make_optimizer(config, model)
    scheduler, per_batch = make_scheduler(config, optimizer, steps)
    average = WeightAverage(model, config.ema) if config.ema else None
    swa = EpochAverage(model) if config.swa else None
    sharpness = SharpnessAware(model, config.sam) if config.sam else None
    forward = variant.forward or TrainForward(model, config.batch_size, variant.compiled, strict=config.compile == "on")
    result = RunResult(config, count_params(model), device.type, bf16, compiled=variant.compiled,
                       compile_error=variant.compile_error, evaluated_on=evaluated_on, variant_note=variant.note,
                       predicted_epoch=variant.epoch_seconds(steps, len(test_split.labels)),
                       compiled_already=forward.compiled is not None and not forward.first)
    unfinished = None  # a mid-epoch checkpoint's progress
    if resume:
        state = load_checkpoint(checkpoint, config, model, optimizer, scheduler, generator, average, swa)
        result.history = [EpochMetrics(**m) for m in state["history"]]
        unfinished = EpochProgress(**state["progress"]) if state.get("progress") else None
    on_start(result)

    def save(progress: EpochProgress | None = None) -> None:
        save_checkpoint(checkpoint, config, model, optimizer, scheduler, generator,
                        [asdict(m) for m in result.history], average, asdict(progress) if progress else None, swa)

    for epoch in range(len(result.history) + 1, config.epochs + 1):
        last_save = time.perf_counter()
        averaging = swa is not None and epoch > config.epochs - config.swa
        if unfinished is not None and unfinished.epoch == epoch:
            progress = unfinished  # the generator was restored to where that epoch stopped
        else:
            if averaging:
                for group in optimizer.param_groups:
                    group["lr"] = config.swa_lr
            order = shuffled(len(train_split.labels), generator)
            progress = EpochProgress(epoch, order, optimizer.param_groups[0]["lr"])

        def after_step():
            nonlocal last_save
            if time.perf_counter() - last_save >= checkpoint_every:
                progress.seconds += time.perf_counter() - last_save
                last_save = time.perf_counter()
                save(progress)

        it = batches(train_split, config.batch_size, shuffle=True, rotation=config.rotation, generator=generator,
                     order=progress.order, skip=progress.steps, shift=config.shift, elastic=config.elastic,
                     interpolation=config.interpolation, scale=config.scale)
        train_loss, train_acc = train_epoch(model, wrap_batches(it, steps, epoch, progress.steps), optimizer,
                                            None if averaging else scheduler, per_batch, device, bf16,
                                            config.label_smoothing, forward, average, progress, after_step,
                                            sharpness)
        result.compiled = forward.compiled is not None
        result.compile_error = forward.error or result.compile_error
        if averaging:
            swa.add(model, train_split, device, bf16)
        evaluated = swa.model if averaging else average.model if average else model
        test_loss, test_acc = test(evaluated, test_split, device, bf16)
        seconds = progress.seconds + time.perf_counter() - last_save
        metrics = EpochMetrics(epoch, train_loss, train_acc, test_loss, test_acc, seconds, progress.lr)
        result.history.append(metrics)
        save()
        on_epoch(metrics)
    return result
