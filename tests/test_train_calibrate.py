import pytest
import torch

from xlbackprop.errors import TrainError
from xlbackprop.train import calibrate, loop
from xlbackprop.train.calibrate import Variant, choose_variant
from xlbackprop.train.config import config_for

CPU = torch.device("cpu")
LONG_RUN = 5 * 469  # five full epochs at batch 128


@pytest.fixture
def any_cpu(monkeypatch):
    """A CPU with a compiler and bfloat16, so that auto has four variants to choose from."""
    monkeypatch.setattr(loop.shutil, "which", lambda name: "/usr/bin/" + name)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)


def fake_timer(results, calls):
    def timer(config, device, variants):
        calls.append([v.name for v in variants])
        return {v.name: results[v.name] for v in variants}
    return timer


AMX_LIKE = {  # seconds per step and compiling seconds, shaped like a CPU where compiled bf16 wins
    "eager float32": {"step": 0.060, "compile": 0.0},
    "eager bf16": {"step": 0.045, "compile": 0.0},
    "compiled float32": {"step": 0.030, "compile": 20.0},
    "compiled bf16": {"step": 0.020, "compile": 25.0},
}


def test_auto_times_every_variant_keeps_the_fastest_and_caches_the_measurement(tmp_path, any_cpu):
    calls, cache = [], tmp_path / "calibration.json"
    config = config_for("s6-22k")
    first = choose_variant(config, CPU, LONG_RUN, cache, timer=fake_timer(AMX_LIKE, calls))
    assert (first.compiled, first.bf16) == (True, True)
    assert first.note.startswith("compiled bf16, the fastest for this run as measured here (ms per step: "
                                 "compiled bf16 20 (+25 s compiling), compiled float32 30")
    assert calls == [["eager float32", "eager bf16", "compiled float32", "compiled bf16"]]

    again = choose_variant(config, CPU, LONG_RUN, cache, timer=fake_timer(AMX_LIKE, calls))
    assert len(calls) == 1  # read from the cache, not measured again
    assert (again.compiled, again.bf16) == (True, True) and f"cached in {cache}" in again.note


def test_compiling_is_kept_only_when_the_run_saves_more_than_compiling_costs(tmp_path, any_cpu):
    config = config_for("s6-22k", bf16="off")
    results = {"eager float32": {"step": 0.050, "compile": 0.0}, "compiled float32": {"step": 0.030, "compile": 20.0}}
    # 20 ms saved per step repays 20 s of compiling after 1,000 steps
    short = choose_variant(config, CPU, 900, tmp_path / "c.json", timer=fake_timer(results, []))
    long = choose_variant(config, CPU, 1100, tmp_path / "c.json", timer=fake_timer(results, []))
    assert not short.compiled and long.compiled


def test_a_setting_given_leaves_only_the_other_to_measure(tmp_path, any_cpu):
    calls = []
    variant = choose_variant(config_for("s6-22k", compile="off"), CPU, LONG_RUN, tmp_path / "c.json",
                             timer=fake_timer(AMX_LIKE, calls))
    assert calls == [["eager float32", "eager bf16"]] and (variant.compiled, variant.bf16) == (False, True)


def test_nothing_is_measured_when_there_is_nothing_to_choose_or_the_run_is_deterministic(tmp_path, any_cpu):
    def no_timing(*args):
        raise AssertionError("measured")

    fixed = choose_variant(config_for("s6-22k", compile="on", bf16="off"), CPU, LONG_RUN, tmp_path / "c.json",
                           timer=no_timing)
    assert (fixed.compiled, fixed.bf16, fixed.note) == (True, False, "")
    deterministic = choose_variant(config_for("s6-22k", deterministic=True), CPU, LONG_RUN, tmp_path / "c.json",
                                   timer=no_timing)
    assert not deterministic.compiled and deterministic.note == "by rule, not measured (--deterministic)"
    assert not (tmp_path / "c.json").exists()


def test_a_compiler_that_fails_while_measuring_is_reported_and_not_cached(tmp_path, any_cpu):
    results = {**AMX_LIKE, "compiled float32": "InvalidCxxCompiler: No working C++ compiler found",
               "compiled bf16": "InvalidCxxCompiler: No working C++ compiler found"}
    variant = choose_variant(config_for("s6-22k"), CPU, LONG_RUN, tmp_path / "c.json", timer=fake_timer(results, []))
    assert (variant.compiled, variant.bf16) == (False, True)
    assert variant.compile_error == "InvalidCxxCompiler: No working C++ compiler found"
    assert "compiled float32 failed to compile" in variant.note
    assert not (tmp_path / "c.json").exists()  # a fixed compiler is measured next time


def test_the_cache_is_kept_apart_per_machine_torch_version_threads_and_onednn_cap(monkeypatch, any_cpu):
    config, variants = config_for("s6-22k"), [Variant(False, False), Variant(True, False)]
    key = calibrate.cache_key(config, CPU, variants)
    assert f"torch {torch.__version__}" in key and f"{torch.get_num_threads()} threads" in key
    assert f"s6-22k batch {config.batch_size}" in key and "eager float32, compiled float32" in key
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_FP16")
    capped = calibrate.cache_key(config, CPU, variants)
    assert capped != key and "oneDNN capped at AVX512_CORE_FP16" in capped


def test_a_damaged_cache_is_measured_again(tmp_path, any_cpu):
    cache = tmp_path / "c.json"
    cache.write_text("{not json")
    calls = []
    choose_variant(config_for("s6-22k"), CPU, LONG_RUN, cache, timer=fake_timer(AMX_LIKE, calls))
    assert len(calls) == 1 and '"compiled bf16"' in cache.read_text()


@pytest.fixture
def one_thread():
    """Two threads on a busy 2-core machine spin-wait each other into minutes."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_measure_times_real_training_steps_of_each_variant(one_thread):
    config = config_for("xl-8k", batch_size=8)
    variants = [Variant(False, False)] + ([Variant(False, True)] if loop.bf16_supported(CPU) else [])
    results = calibrate.measure(config, CPU, variants)
    assert set(results) == {v.name for v in variants}
    for r in results.values():
        assert r["step"] > 0  # a variant dropped as clearly slower after a round keeps its step time too
    for r in calibrate.timed(results).values():
        assert r["compile"] >= 0 and r["test"] > 0
    assert calibrate.timed(results), "the fastest variant is always timed to the end"


def test_compile_on_that_fails_while_measuring_is_a_clear_error(monkeypatch, any_cpu):
    from tests.test_train_loop import failing_compile

    monkeypatch.setattr(loop.torch, "compile", failing_compile)
    config = config_for("xl-8k", compile="on", batch_size=8)
    with pytest.raises(TrainError, match="torch.compile failed: InvalidCxxCompiler"):
        calibrate.measure(config, CPU, [Variant(True, False), Variant(True, True)])


def test_a_dtype_clearly_slower_eagerly_is_not_compiled():
    assert calibrate.worth_compiling({"eager float32": 0.090, "eager bf16": 0.040}) == {"bf16"}
    assert calibrate.worth_compiling({"eager float32": 0.050, "eager bf16": 0.040}) == {"float32", "bf16"}
    assert calibrate.worth_compiling({"eager float32": 0.050}) == {"float32"}


def test_a_candidate_clearly_slower_after_a_round_is_timed_no_further():
    times = {"eager float32": [0.080, 0.085], "compiled bf16": [0.030, 0.050], "compiled float32": [0.040, 0.041]}
    assert calibrate.still_in(times) == {"compiled bf16", "compiled float32"}  # 82.5 ms > 1.5 x 40 ms


def test_dropped_candidates_are_said_and_never_chosen(tmp_path, any_cpu):
    results = {**AMX_LIKE, "eager float32": {"dropped": "over 1.5x slower than the fastest", "step": 0.060},
               "compiled float32": {"dropped": "not compiled: eager float32 was over 1.5x slower than eager bf16"}}
    variant = choose_variant(config_for("s6-22k"), CPU, LONG_RUN, tmp_path / "c.json", timer=fake_timer(results, []))
    assert (variant.compiled, variant.bf16) == (True, True)
    assert "ms per step: compiled bf16 20 (+25 s compiling), eager bf16 45; " in variant.note
    assert "compiled float32 dropped (not compiled: eager float32 was over 1.5x slower than eager bf16)" in variant.note
    assert variant.step == 0.020


def test_the_cache_key_names_the_timing_method_so_older_figures_are_measured_again(any_cpu):
    key = calibrate.cache_key(config_for("s6-19k"), CPU, [Variant(False, False), Variant(True, False)])
    assert key.startswith(calibrate.METHOD + " | ")


def test_sam_steps_are_timed_apart_from_plain_ones_since_each_costs_two_passes(any_cpu):
    variants = [Variant(False, False)]
    plain = calibrate.cache_key(config_for("s6-22k"), CPU, variants)
    assert calibrate.cache_key(config_for("s6-22k", sam=0.05), CPU, variants) == plain.replace(
        "s6-22k batch 64", "s6-22k batch 64 sam")


@pytest.fixture
def eager_backend(monkeypatch):
    """torch.compile traced by dynamo (guards, recompiles) without inductor's minutes of C++ on a busy machine;
    it counts the calls."""
    real, calls = torch.compile, []

    def compile_(model, dynamic):
        calls.append(model)
        return real(model, dynamic=dynamic, backend="eager")

    monkeypatch.setattr(loop.torch, "compile", compile_)
    monkeypatch.setattr(loop, "compiler_available", lambda device: True)
    torch._dynamo.reset()
    counters.clear()
    yield calls
    torch._dynamo.reset()


from torch._dynamo.utils import counters  # noqa: E402


def test_measure_on_the_runs_model_gives_it_back_untouched_and_keeps_each_forward(one_thread, eager_backend):
    config = config_for("xl-8k", batch_size=8, ema=0.9)
    torch.manual_seed(3)
    model = loop.build_model("xl-8k")
    before, rng = {k: v.clone() for k, v in model.state_dict().items()}, torch.get_rng_state()
    forwards = {}
    variants = [Variant(False, False), Variant(True, False)]
    results = calibrate.measure(config, CPU, variants, model, forwards)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert torch.equal(torch.get_rng_state(), rng)
    assert set(forwards) == {"eager float32", "compiled float32"} and forwards["compiled float32"].compiled is not None
    for name, r in results.items():
        assert r.get("step", 0) > 0 and ("dropped" in r or r["test"] > 0)


def test_a_compiled_run_compiles_once_calibration_last_batch_and_testing_included(tmp_path, monkeypatch, one_thread,
                                                                                  eager_backend):
    """auto times eager and compiled float32 on the run's model and keeps the compiled forward it timed: no
    second compile, and no recompile for the epoch's smaller last batch (300 = 4 x 64 + 44), for testing in
    batches of another size, or for switching between training and evaluation (no --ema: the same model)."""
    from tests.test_train_loop import random_mnist

    monkeypatch.setattr(calibrate, "CACHE", tmp_path / "calibration.json")
    monkeypatch.setattr(loop, "COMPILE_MIN_STEPS", 1)
    monkeypatch.setattr(calibrate, "fastest", lambda results, total_steps: "compiled float32")
    monkeypatch.setattr(calibrate, "affordable", lambda *args: True)  # a run this tiny would not compile at all
    config = config_for("xl-8k", epochs=2, batch_size=64, bf16="off", threads=1, ema=0.0)
    result = loop.run(config, random_mnist(n_train=300, n_test=70), tmp_path / "last.pt")
    assert result.compiled
    assert len(eager_backend) == 1  # torch.compile called by the timing only
    assert counters["frames"]["ok"] == 1 and counters["stats"]["unique_graphs"] == 1


def test_another_compile_is_tried_only_while_the_first_run_stays_within_a_quarter_more():
    # 5 epochs at batch 64 (4,690 steps of 18 ms, 84 s): 21 s to spare, 5 spent, ~20 s more to compile
    assert not calibrate.affordable(20.0, 5.0, 0.018, 4_690)
    # 15 epochs (s6-22k's recipe) leave 63 s
    assert calibrate.affordable(20.0, 5.0, 0.018, 15 * 938)
    assert calibrate.affordable(60.0, 0.0, 0.018, 0)  # no run length: measure everything


def test_a_first_compile_is_skipped_when_it_alone_would_cost_a_short_run_over_a_quarter_more(one_thread,
                                                                                             eager_backend):
    """A run of 6 epochs of batch 64 (5,628 steps of ~14 ms: ~80 s) cannot repay ~25 s of compiling within
    the first run's quarter, so nothing is compiled; a run long enough compiles."""
    config = config_for("xl-8k", batch_size=8)
    variants = [Variant(False, False), Variant(True, False)]
    short = calibrate.measure(config, CPU, variants, total_steps=10)
    assert short["compiled float32"]["dropped"].startswith("not compiled: a first ~25 s of compiling")
    assert eager_backend == [] and "step" in short["eager float32"]
    long = calibrate.measure(config, CPU, variants, total_steps=10**9)
    assert len(eager_backend) == 1 and "step" in long["compiled float32"]


def test_a_variant_under_the_margin_in_the_seed_grid_is_left_out_of_auto_for_that_model(tmp_path, any_cpu):
    """config.NOT_AUTO: s6-19k's compiled float32 is never auto's choice, even where it times fastest; asked
    for by name it runs."""
    calls = []
    variant = choose_variant(config_for("s6-19k"), CPU, LONG_RUN, tmp_path / "c.json", timer=fake_timer(AMX_LIKE, calls))
    assert calls == [["eager float32", "eager bf16", "compiled bf16"]]
    assert "; compiled float32 left out of auto for s6-19k: under the accuracy margin in its seed grid" in variant.note
    fast_float32 = {**AMX_LIKE, "compiled float32": {"step": 0.001, "compile": 0.0}}
    without_bf16 = choose_variant(config_for("s6-19k", bf16="off"), CPU, LONG_RUN, tmp_path / "d.json",
                                  timer=fake_timer(fast_float32, calls))
    assert (without_bf16.compiled, without_bf16.bf16) == (False, False) and "left out of auto" in without_bf16.note
    asked = choose_variant(config_for("s6-19k", compile="on", bf16="off"), CPU, LONG_RUN, tmp_path / "e.json")
    assert (asked.compiled, asked.bf16) == (True, False) and asked.note == ""
    other_model = choose_variant(config_for("s6-22k", bf16="off"), CPU, LONG_RUN, tmp_path / "f.json",
                                 timer=fake_timer(fast_float32, calls))
    assert other_model.compiled
