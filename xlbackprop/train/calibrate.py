"""How `--compile auto` and `--bf16 auto` choose: by timing a few training steps of each candidate variant
(eager or compiled, float32 or bfloat16 autocast) on this machine, once per machine and torch version, and
keeping the fastest. Flags cannot tell: on a CPU with AMX the compiled bf16 loop is the fastest, on one
without it is slower than compiled float32, and other tenants change the picture again."""

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

from xlbackprop.train.config import TrainConfig
from xlbackprop.train.loop import TrainForward, bf16_supported, resolve_bf16, resolve_compile, train_epoch
from xlbackprop.train.models import build_model

CACHE = Path.home() / ".cache" / "xlbackprop" / "calibration.json"
WARM_UP_STEPS = 3  # the first compiles the graphs, the next run them once more before timing
TIMED_STEPS, ROUNDS = 8, 3  # rounds interleave the candidates, so a burst of other work hits them all


@dataclass
class Variant:
    compiled: bool
    bf16: bool
    note: str = ""  # why this one, for the log; empty when there was nothing to choose
    compile_error: str = ""  # why a compiled candidate could not be measured

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
    return " | ".join([machine(device), f"torch {torch.__version__}", f"{torch.get_num_threads()} threads",
                       f"{config.model} batch {config.batch_size}", ", ".join(v.name for v in variants)])


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


def measure(config: TrainConfig, device: torch.device, variants: list[Variant]) -> dict[str, dict | str]:
    """Each variant's seconds per training step on random batches (the speed does not depend on the values),
    the median over interleaved rounds, and the seconds its first steps took beyond that (compiling); a
    compiled variant whose compilation fails maps to the reason (with --compile on, that is a TrainError)."""
    g = torch.Generator().manual_seed(0)
    batch = (torch.randn(config.batch_size, 1, 28, 28, generator=g), torch.randint(0, 10, (config.batch_size,), generator=g))
    steps: dict[str, Callable[[int], float]] = {}
    first: dict[str, float] = {}
    results: dict[str, dict | str] = {}
    for v in variants:
        model = build_model(config.model).to(device)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        forward = TrainForward(model, config.batch_size, v.compiled, strict=config.compile == "on")

        def run(n, model=model, optimizer=optimizer, forward=forward, bf16=v.bf16):
            start = time.perf_counter()
            train_epoch(model, [batch] * n, optimizer, None, True, device, bf16, 0.0, forward)
            return (time.perf_counter() - start) / n

        first[v.name] = run(WARM_UP_STEPS) * WARM_UP_STEPS
        if v.compiled and forward.compiled is None:
            results[v.name] = forward.error
            continue
        steps[v.name] = run
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(ROUNDS):
        for name, run in steps.items():
            times[name].append(run(TIMED_STEPS))
    for name, t in times.items():
        step = statistics.median(t)
        results[name] = {"step": step, "compile": max(0.0, first[name] - WARM_UP_STEPS * step)}
    return results


def fastest(results: dict[str, dict | str], total_steps: int) -> str:
    """The variant that finishes `total_steps` soonest, its compiling included: a compiled variant must save
    more over the run than compiling costs (measured cold, so an estimate on the safe side)."""
    timed = {name: r for name, r in results.items() if isinstance(r, dict)}
    return min(timed, key=lambda name: timed[name]["compile"] + total_steps * timed[name]["step"])


def describe(choice: str, results: dict[str, dict | str]) -> str:
    timed = sorted((r["step"], name, r["compile"]) for name, r in results.items() if isinstance(r, dict))
    parts = [f"{name} {step * 1000:.0f}" + (f" (+{compile_:.0f} s compiling)" if "compiled" in name else "")
             for step, name, compile_ in timed]
    failed = "".join(f"; {name} failed to compile" for name, r in results.items() if isinstance(r, str))
    return f"{choice}, the fastest for this run as measured here (ms per step: {', '.join(parts)}{failed})"


def shown(path: Path) -> str:
    """The path as the user would type it: ~ for the home folder."""
    try:
        return "~/" + str(path.relative_to(Path.home()))
    except ValueError:
        return str(path)


def choose_variant(config: TrainConfig, device: torch.device, total_steps: int, cache: Path | None = None,
                   on_measure: Callable[[list[str]], None] = lambda names: None, timer=None) -> Variant:
    """The variant to train with: measured (or read from the cache) when `auto` leaves a choice, by rule for
    --deterministic runs (timing them would make nothing more reproducible) and when only one is allowed."""
    cache = cache or CACHE
    if config.deterministic:
        compiled = resolve_compile(config.compile, device, True, total_steps)
        bf16 = resolve_bf16(config.bf16, device, compiled)
        auto = "auto" in (config.compile, config.bf16)
        return Variant(compiled, bf16, "by rule, not measured (--deterministic)" if auto else "")
    variants = candidates(config, device, total_steps)
    if len(variants) == 1:
        return variants[0]
    key = cache_key(config, device, variants)
    entry = read_cache(cache).get(key)
    if entry and set(entry.get("results", {})) == {v.name for v in variants}:
        results, when = entry["results"], f"; measured {entry['measured']}, cached in {shown(cache)}"
    else:
        on_measure([v.name for v in variants])
        results, when = (timer or measure)(config, device, variants), ""
        if not any(isinstance(r, str) for r in results.values()):  # a broken compiler may be fixed: retry then
            write_cache(cache, key, {"results": results, "measured": date.today().isoformat()})
    choice = next(v for v in variants if v.name == fastest(results, total_steps))
    choice.compile_error = next((r for r in results.values() if isinstance(r, str)), "")
    choice.note = describe(choice.name, results) + when
    return choice
