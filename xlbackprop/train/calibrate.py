"""How `--compile auto` and `--bf16 auto` choose: by timing a few training steps of each candidate variant
(eager or compiled, float32 or bfloat16 autocast) on this machine, once per machine and torch version, and
keeping the fastest. Flags cannot tell: on a CPU with AMX the compiled bf16 loop is the fastest, on one
without it is slower than compiled float32, and other tenants change the picture again."""

import copy
import itertools
import json
import os
import platform
import statistics
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Callable

import torch

from xlbackprop.train.config import NOT_AUTO, TrainConfig
from xlbackprop.train.data import Split, batches
from xlbackprop.train.loop import (SharpnessAware, TrainForward, WeightAverage, bf16_supported, resolve_bf16,
                                   resolve_compile, test, train_epoch)
from xlbackprop.train.models import build_model

CACHE = Path.home() / ".cache" / "xlbackprop" / "calibration.json"
METHOD = "timing 2"  # in the cache key: figures measured another way are measured again
WARM_UP_STEPS = 2  # the first compiles the graphs (forward, then backward), the second runs them once more
TIMED_STEPS, ROUNDS = 8, 3  # rounds interleave the candidates, so a burst of other work hits them all
# A candidate this much slower than the best is dropped: timed no further, and, for an eager dtype, not compiled.
# Compiling fuses BatchNorm, ReLU and the optimizer's arithmetic around the convolutions, which run the same
# oneDNN kernels eager or compiled and are most of a step (13.4 of 15.8 s per epoch of s6-19k on this project's
# 2-core CPU): a dtype whose eager steps are half again as slow does not catch up by compiling.
CLEARLY_SLOWER = 1.5
# A new user's first run should cost at most this much more than one with the choice cached (issue 18): a variant
# is compiled only while its compiling (estimated by the one before, or FIRST_COMPILE_ESTIMATE) fits in that.
FIRST_RUN_EXTRA = 0.25
# What a first compile is taken to cost before one has been timed: s6-19k's took 22 s on this project's 2-core CPU
# and 27-32 s on an AMX one (issue 18). Without it, a short run compiled once and lost (107 s against 75 s cached).
FIRST_COMPILE_ESTIMATE = 25.0
TEST_IMAGES_TIMED = 512


@dataclass
class Variant:
    compiled: bool
    bf16: bool
    note: str = ""  # why this one, for the log; empty when there was nothing to choose
    compile_error: str = ""  # why a compiled candidate could not be measured
    step: float = 0.0  # seconds per training step as timed (0: not timed)
    test_per_image: float = 0.0  # seconds per evaluated image as timed
    forward: object = None  # the TrainForward timed on the run's own model, compiled already: reused, not rebuilt

    def epoch_seconds(self, steps: int, test_images: int) -> float:
        """What the timing predicts for one epoch of training and testing (0: not timed)."""
        return steps * self.step + test_images * self.test_per_image if self.step else 0.0

    @property
    def name(self) -> str:
        return f"{'compiled' if self.compiled else 'eager'} {'bf16' if self.bf16 else 'float32'}"


def candidates(config: TrainConfig, device: torch.device, total_steps: int) -> list[Variant]:
    """The variants the settings allow: `auto` offers both sides, `on`/`off` one; compiling only pays for
    long runs with a compiler at hand (resolve_compile)."""
    if config.compile == "auto":
        compiles = [False, True] if resolve_compile("auto", device, config.deterministic, total_steps) else [False]
    else:
        compiles = [resolve_compile(config.compile, device, config.deterministic, total_steps)]
    if config.bf16 == "auto":
        bf16s = [False, True] if bf16_supported(device) else [False]
    else:
        bf16s = [resolve_bf16(config.bf16, device)]
    return [Variant(c, b) for c in compiles for b in bf16s]


def without_left_out(config: TrainConfig, variants: list[Variant]) -> tuple[list[Variant], str]:
    """The candidates without those `auto` never picks for this model (config.NOT_AUTO), and a note naming them;
    a variant asked for by both settings, or the only one left, is kept."""
    if "auto" not in (config.compile, config.bf16):
        return variants, ""
    kept = [v for v in variants if v.name not in NOT_AUTO.get(config.model, ())]
    left_out = [v.name for v in variants if v not in kept]
    if not kept or not left_out:
        return variants, ""
    return kept, (f"{', '.join(left_out)} left out of auto for {config.model}: under the accuracy margin in its "
                  "seed grid")


def machine(device: torch.device) -> str:
    """What the speeds depend on: the processor, its instruction sets and oneDNN's cap on them."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    name = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    amx = ", AMX" if torch.cpu._is_amx_tile_supported() else ""
    isa_cap = os.environ.get("ONEDNN_MAX_CPU_ISA", "")
    return f"{name} ({torch.backends.cpu.get_cpu_capability()}{amx}{', oneDNN capped at ' + isa_cap if isa_cap else ''})"


def cache_key(config: TrainConfig, device: torch.device, variants: list[Variant]) -> str:
    return " | ".join([METHOD, machine(device), f"torch {torch.__version__}", f"{torch.get_num_threads()} threads",
                       f"{config.model} batch {config.batch_size}" + (" sam" if config.sam else ""),  # 2 passes a step
                       ", ".join(v.name for v in variants)])


def read_cache(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):  # none yet, or damaged: measure again
        return {}


def write_cache(path: Path, key: str, entry: dict) -> None:
    """Best effort: a read-only home only means measuring again next time."""
    cache = read_cache(path)
    cache[key] = entry
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(cache, indent=1))
        os.replace(tmp, path)
    except OSError:
        pass


def dtype_of(name: str) -> str:
    return name.split()[1]


def worth_compiling(eager_steps: dict[str, float]) -> set[str]:
    """The dtypes (float32, bf16) whose eager steps are not clearly slower than the fastest eager dtype's."""
    best = min(eager_steps.values())
    return {dtype_of(name) for name, step in eager_steps.items() if step <= CLEARLY_SLOWER * best}


def still_in(times: dict[str, list[float]]) -> set[str]:
    """The candidates whose median step so far is not clearly slower than the best one's."""
    medians = {name: statistics.median(t) for name, t in times.items()}
    best = min(medians.values())
    return {name for name, m in medians.items() if m <= CLEARLY_SLOWER * best}


def affordable(compile_estimate: float, overhead: float, best_step: float, total_steps: int) -> bool:
    """Whether compiling one more variant (about `compile_estimate` s, as the last compile took) keeps the
    timing's cost (`overhead` s so far, the kept compile not counted) within FIRST_RUN_EXTRA of the run's
    training time at the best step so far. No run length given: always."""
    return not total_steps or overhead + compile_estimate <= FIRST_RUN_EXTRA * total_steps * best_step


def measure(config: TrainConfig, device: torch.device, variants: list[Variant], model: torch.nn.Module | None = None,
            forwards: dict | None = None, total_steps: int = 0) -> dict[str, dict | str]:
    """Each variant's seconds per training step (rotating a batch, the step, averaging the weights, as in
    training; on random images, as the speed does not depend on them), the median over interleaved rounds, the
    seconds its first steps took beyond that (compiling), and its seconds per evaluated image.

    Eager variants are timed first; a compiled variant is compiled only when its dtype's eager steps were not
    clearly slower, in the order of its dtype's eager speed, and only while compiling it (as long as the last
    compile took, FIRST_COMPILE_ESTIMATE for the first) fits the first run's budget for a run of `total_steps`
    (affordable); a variant clearly slower than the best after a round is timed no further: such variants map
    to {"dropped": why}. A compiled variant whose compilation fails maps to the reason (with --compile on, that
    is a TrainError). With `model` (the run's, seeded) the variants are timed on it and it
    is given back with its weights and the random state untouched; `forwards` then receives each variant's
    TrainForward, so that the compile of the chosen one is kept.
    """
    model = model or build_model(config.model, config.dropout).to(device)
    saved, rng, was_training = copy.deepcopy(model.state_dict()), torch.get_rng_state(), model.training
    g = torch.Generator().manual_seed(0)
    n = config.batch_size * TIMED_STEPS
    images = Split(torch.randint(0, 256, (n, 28, 28), dtype=torch.uint8, generator=g), torch.randint(0, 10, (n,), generator=g))
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
    average = WeightAverage(model, config.ema) if config.ema else None
    forwards = {} if forwards is None else forwards

    sharpness = SharpnessAware(model, config.sam) if config.sam else None

    def steps(v: Variant, count: int) -> float:
        """Seconds per step over `count` steps of variant `v`."""
        source = batches(images, config.batch_size, True, config.rotation, g, shift=config.shift,
                         elastic=config.elastic, interpolation=config.interpolation, scale=config.scale)
        it = itertools.islice(itertools.cycle(source), count)
        start = time.perf_counter()
        train_epoch(model, it, optimizer, None, True, device, v.bf16, 0.0, forwards[v.name], average,
                    sharpness=sharpness)
        return (time.perf_counter() - start) / count

    results: dict[str, dict | str] = {}
    times: dict[str, list[float]] = {}
    first: dict[str, float] = {}
    try:
        def start(v: Variant) -> None:
            forwards[v.name] = TrainForward(model, config.batch_size, v.compiled, strict=config.compile == "on")
            first[v.name] = steps(v, WARM_UP_STEPS) * WARM_UP_STEPS
            if v.compiled and forwards[v.name].compiled is None:
                results[v.name] = forwards[v.name].error
            else:
                times[v.name] = [steps(v, TIMED_STEPS)]

        began = time.perf_counter()
        for v in variants:
            if not v.compiled:
                start(v)
        eager = {name: t[0] for name, t in times.items()}
        compile_dtypes = worth_compiling(eager) if eager else {"float32", "bf16"}
        eager_speed = {dtype_of(name): step for name, step in eager.items()}
        compiled = sorted((v for v in variants if v.compiled), key=lambda v: eager_speed.get(dtype_of(v.name), 0.0))
        last_compile = 0.0
        for v in compiled:
            if dtype_of(v.name) not in compile_dtypes:
                fastest_eager = min(eager, key=eager.get)
                results[v.name] = {"dropped": f"not compiled: eager {dtype_of(v.name)} was over {CLEARLY_SLOWER}x "
                                              f"slower than {fastest_eager}"}
                continue
            best = min(times, key=lambda name: min(times[name]), default=None)
            kept = max(0.0, first.get(best, 0.0) - WARM_UP_STEPS * min(times[best])) if best else 0.0
            overhead = time.perf_counter() - began - kept
            estimate = last_compile or FIRST_COMPILE_ESTIMATE
            if best and not affordable(estimate, overhead, min(times[best]), total_steps):
                what = "another" if last_compile else "a first"
                results[v.name] = {"dropped": f"not compiled: {what} ~{estimate:.0f} s of compiling would make "
                                              f"this first run cost over {1 + FIRST_RUN_EXTRA:.2f}x a cached one"}
                continue
            start(v)
            if v.name in times:
                last_compile = max(0.0, first[v.name] - WARM_UP_STEPS * times[v.name][0])
        for _ in range(ROUNDS - 1):
            slower = set(times) - still_in(times) if times else set()  # empty when every compile failed
            for name in slower:
                results[name] = {"dropped": f"over {CLEARLY_SLOWER}x slower than the fastest",
                                 "step": statistics.median(times.pop(name))}
            for v in variants:
                if v.name in times:
                    times[v.name].append(steps(v, TIMED_STEPS))
        for name, t in times.items():
            step = statistics.median(t)
            bf16 = dtype_of(name) == "bf16"
            results[name] = {"step": step, "compile": max(0.0, first[name] - WARM_UP_STEPS * step),
                             "test": test_seconds_per_image(model, images, device, bf16)}
    finally:
        model.load_state_dict(saved)  # in place: the compiled graphs stay valid for this model
        model.zero_grad(set_to_none=True)
        model.train(was_training)
        torch.set_rng_state(rng)
    return results


def test_seconds_per_image(model, images: Split, device: torch.device, bf16: bool) -> float:
    start = time.perf_counter()
    test(model, Split(images.images[:TEST_IMAGES_TIMED], images.labels[:TEST_IMAGES_TIMED]), device, bf16)
    return (time.perf_counter() - start) / TEST_IMAGES_TIMED


def timed(results: dict[str, dict | str]) -> dict[str, dict]:
    """The variants measured to the end (not failed, not dropped)."""
    return {name: r for name, r in results.items() if isinstance(r, dict) and "dropped" not in r}


def fastest(results: dict[str, dict | str], total_steps: int) -> str:
    """The variant that finishes `total_steps` soonest, its compiling included: a compiled variant must save
    more over the run than compiling costs (measured cold, so an estimate on the safe side)."""
    done = timed(results)
    return min(done, key=lambda name: done[name]["compile"] + total_steps * done[name]["step"])


def describe(choice: str, results: dict[str, dict | str]) -> str:
    ranked = sorted((r["step"], name, r["compile"]) for name, r in timed(results).items())
    parts = [f"{name} {step * 1000:.0f}" + (f" (+{compile_:.0f} s compiling)" if "compiled" in name else "")
             for step, name, compile_ in ranked]
    dropped = "".join(f"; {name} dropped ({r['dropped']})" for name, r in results.items()
                      if isinstance(r, dict) and "dropped" in r)
    failed = "".join(f"; {name} failed to compile" for name, r in results.items() if isinstance(r, str))
    return f"{choice}, the fastest for this run as measured here (ms per step: {', '.join(parts)}{dropped}{failed})"


def shown(path: Path) -> str:
    """The path as the user would type it: ~ for the home folder."""
    try:
        return "~/" + str(path.relative_to(Path.home()))
    except ValueError:
        return str(path)


def choose_variant(config: TrainConfig, device: torch.device, total_steps: int, cache: Path | None = None,
                   on_measure: Callable[[list[str]], None] = lambda names: None, timer=None,
                   model: torch.nn.Module | None = None) -> Variant:
    """The variant to train with: measured (or read from the cache) when `auto` leaves a choice, by rule for
    --deterministic runs (timing them would make nothing more reproducible) and when only one is allowed.
    Measured on `model` (the run's), the variant comes with its forward, compiled already."""
    cache = cache or CACHE
    if config.deterministic:
        compiled = resolve_compile(config.compile, device, True, total_steps)
        bf16 = resolve_bf16(config.bf16, device, compiled)
        auto = "auto" in (config.compile, config.bf16)
        return Variant(compiled, bf16, "by rule, not measured (--deterministic)" if auto else "")
    variants, left_out = without_left_out(config, candidates(config, device, total_steps))
    if len(variants) == 1:
        variants[0].note = left_out
        return variants[0]
    key = cache_key(config, device, variants)
    entry = read_cache(cache).get(key)
    if entry and set(entry.get("results", {})) == {v.name for v in variants}:
        results, when = entry["results"], f"; measured {entry['measured']}, cached in {shown(cache)}"
    else:
        on_measure([v.name for v in variants])
        forwards: dict = {}
        if timer:
            results = timer(config, device, variants)
        else:
            results = measure(config, device, variants, model, forwards, total_steps)
        when = ""
        if not any(isinstance(r, str) for r in results.values()):  # a broken compiler may be fixed: retry then
            write_cache(cache, key, {"results": results, "measured": date.today().isoformat()})
        for v in variants:
            v.forward = forwards.get(v.name) if model is not None else None
    choice = next(v for v in variants if v.name == fastest(results, total_steps))
    choice.compile_error = next((r for r in results.values() if isinstance(r, str)), "")
    choice.step, choice.test_per_image = results[choice.name]["step"], results[choice.name].get("test", 0.0)
    choice.note = describe(choice.name, results) + when + (f"; {left_out}" if left_out else "")
    return choice
