from pathlib import Path

import pytest
import torch

from xlbackprop.errors import TrainError
from xlbackprop.train import loop
from xlbackprop.train.checkpoint import read_checkpoint
from xlbackprop.train.config import TrainConfig, config_for
from xlbackprop.train.data import Mnist, Split, deskew, load_mnist
from xlbackprop.train.loop import EpochMetrics, RunResult, run

SHARED_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"


def random_mnist(n_train=256, n_test=64, seed=0) -> Mnist:
    g = torch.Generator().manual_seed(seed)

    def split(n):
        return Split(torch.randint(0, 256, (n, 28, 28), generator=g, dtype=torch.uint8),
                     torch.randint(0, 10, (n,), generator=g))

    return Mnist(split(n_train), split(n_test))


def quick(**overrides) -> TrainConfig:
    settings = dict(epochs=2, batch_size=64, bf16="off", threads=1, deterministic=True)
    return config_for("xl-8k", **{**settings, **overrides})


def test_short_run_on_a_small_subset_learns(tmp_path):
    if not SHARED_MNIST.is_dir():
        pytest.skip(f"MNIST not found beside the project ({SHARED_MNIST.name} under ../shared/data)")
    config = config_for("s6-19k", epochs=2, train_limit=1024, test_limit=500, optimizer="adam", lr=0.01,
                        schedule="none", bf16="off", threads=1)
    result = run(config, load_mnist(SHARED_MNIST), tmp_path / "last.pt")
    assert [m.epoch for m in result.history] == [1, 2]
    assert result.history[-1].test_acc > 50.0  # chance is 10%
    assert result.history[-1].train_loss < result.history[0].train_loss


def test_resume_continues_exactly_where_an_interrupted_run_stopped(tmp_path):
    data = random_mnist()
    straight = run(quick(), data, tmp_path / "straight.pt")

    def stop_after_first_epoch(metrics):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(quick(), data, tmp_path / "resumed.pt", on_epoch=stop_after_first_epoch)
    assert len(read_checkpoint(tmp_path / "resumed.pt")["history"]) == 1
    resumed = run(quick(), data, tmp_path / "resumed.pt", resume=True)

    assert [m.epoch for m in resumed.history] == [1, 2]
    for a, b in zip(straight.history, resumed.history):
        assert (a.train_loss, a.train_acc, a.test_loss, a.lr) == (b.train_loss, b.train_acc, b.test_loss, b.lr)
    weights_a = read_checkpoint(tmp_path / "straight.pt")["model"]
    weights_b = read_checkpoint(tmp_path / "resumed.pt")["model"]
    assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a)


def test_resume_without_a_checkpoint_says_so(tmp_path):
    with pytest.raises(TrainError, match="no checkpoint to resume from"):
        run(quick(), random_mnist(), tmp_path / "missing.pt", resume=True)


def test_resume_refuses_another_models_checkpoint(tmp_path):
    run(quick(epochs=1), random_mnist(n_train=64, n_test=16), tmp_path / "last.pt")
    config = config_for("s6-19k", epochs=1, bf16="off", threads=1)
    with pytest.raises(TrainError, match="checkpoint of model xl-8k, expected s6-19k"):
        run(config, random_mnist(), tmp_path / "last.pt", resume=True)


def test_resume_refuses_a_checkpoint_of_an_older_layout_of_the_same_model(tmp_path):
    run(quick(epochs=1), random_mnist(n_train=64, n_test=16), tmp_path / "last.pt")
    state = torch.load(tmp_path / "last.pt", weights_only=False)
    state["model"]["0.weight"] = torch.zeros(10, 1, 3, 3)  # xl-8k's first conv had another width
    torch.save(state, tmp_path / "last.pt")
    with pytest.raises(TrainError, match="do not fit model xl-8k as it is built now"):
        run(quick(epochs=2), random_mnist(n_train=64, n_test=16), tmp_path / "last.pt", resume=True)


def test_onecycle_is_stepped_per_batch_and_step_schedule_per_epoch(tmp_path):
    data = random_mnist(n_train=128, n_test=16)
    onecycle = run(quick(epochs=2, lr=0.1), data, tmp_path / "a.pt")
    # OneCycle starts at max_lr / 25 and moves after every batch, so epoch 2 starts somewhere in between;
    # stepped per epoch instead, it would still be at its initial rate.
    assert onecycle.history[0].lr == pytest.approx(0.1 / 25)
    assert 0.1 / 25 < onecycle.history[1].lr < 0.1
    step = run(quick(epochs=3, lr=0.1, schedule="step", step_size=2, gamma=0.5), data, tmp_path / "b.pt")
    assert [m.lr for m in step.history] == pytest.approx([0.1, 0.1, 0.05])


@pytest.mark.parametrize("steps", [1, 2, 4, 5, 9])
def test_a_onecycle_run_of_a_few_steps_trains_and_starts_low(tmp_path, steps):
    # 5 steps at the recipes' warm-up of 0.2 made torch's OneCycleLR divide by zero.
    result = run(quick(epochs=1, warmup=0.2), random_mnist(n_train=64 * steps, n_test=16), tmp_path / "a.pt")
    assert len(result.history) == 1
    if steps >= 3:
        assert result.history[0].lr == pytest.approx(0.2 / 25)


@pytest.mark.parametrize("field, value, message", [
    ("epochs", 0, "epochs is 0, expected at least 1"),
    ("batch_size", 0, "batch size is 0"),
    ("lr", -1.0, "learning rate is -1.0"),
    ("schedule", "cosine", "schedule is 'cosine', expected one of onecycle, step, none"),
    ("warmup", 1.0, "warmup is 1.0, expected a fraction of the run between 0 and 1"),
    ("div_factor", 0.5, "div factors are 0.5 and 10000.0, expected 1 or more"),
    ("ema", 1.0, "ema decay is 1.0, expected 0 .off. or a number below 1"),
    ("val_split", -5, "validation split is -5 images"),
    ("shift", -1.0, r"shift is -1.0 pixels, expected 0 \(none\) or more"),
    ("swa", 19, r"swa is 19 epochs, expected 0 \(off\) or fewer than the run's 10"),
    ("swa_lr", 0.0, "swa rate is 0.0, expected a positive number"),
    ("elastic", -0.5, r"elastic is -0.5 pixels, expected 0 \(none\) or more"),
    ("interpolation", "bicubic", "interpolation is 'bicubic', expected one of bilinear, nearest"),
    ("scale", 1.0, r"scale is 1.0, expected 0 \(off\) or a fraction below 1"),
    ("sam", -0.05, r"sam is -0.05, expected 0 \(off\) or a positive distance"),
])
def test_bad_settings_are_rejected_before_training(field, value, message):
    with pytest.raises(TrainError, match=message):
        config_for("s6-19k", **{field: value})


def history(accs):
    return [EpochMetrics(i + 1, 0.1, 99.0, 0.02, acc, 1.0, 0.01) for i, acc in enumerate(accs)]


def test_targets_hold_the_minimum_of_the_last_three_epochs_not_the_best():
    config = config_for("s6-19k")
    result = RunResult(config, 19_698, "cpu", False, history([98.0, 99.6, 99.38, 99.5, 99.45]))
    assert result.held_acc == 99.38
    assert not result.targets_met()  # the best epoch (99.6) does not count
    result.history = history([98.0, 99.6, 99.42, 99.5, 99.45])
    assert result.targets_met()


def test_targets_are_not_met_with_too_many_epochs_or_params():
    config = config_for("xl-8k")
    assert RunResult(config, 8_000, "cpu", False, history([99.41] * 15)).targets_met()  # at most 8,000 params
    assert not RunResult(config, 8_000, "cpu", False, history([99.4] * 15)).targets_met()  # above 99.40%
    assert not RunResult(config, 8_001, "cpu", False, history([99.5] * 15)).targets_met()
    assert not RunResult(config, 7_000, "cpu", False, history([99.5] * 16)).targets_met()


def test_cuda_request_without_cuda_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(TrainError, match="no CUDA device"):
        loop.resolve_device("cuda")


def test_compile_auto_is_for_long_runs_with_a_compiler_and_without_deterministic(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setattr(loop.shutil, "which", lambda name: "/usr/bin/" + name)
    assert loop.resolve_compile("auto", cpu, deterministic=False, total_steps=19 * 469)
    assert not loop.resolve_compile("auto", cpu, deterministic=False, total_steps=469)  # would not repay it
    assert not loop.resolve_compile("auto", cpu, deterministic=True, total_steps=19 * 469)
    assert loop.resolve_compile("on", cpu, deterministic=True, total_steps=1)
    assert not loop.resolve_compile("off", cpu, deterministic=False, total_steps=19 * 469)


def test_compile_on_without_a_compiler_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(loop.shutil, "which", lambda name: None)
    cpu = torch.device("cpu")
    assert not loop.resolve_compile("auto", cpu, deterministic=False, total_steps=10_000)
    with pytest.raises(TrainError, match=r"--compile on needs a C\+\+ compiler \(g\+\+\) on PATH"):
        loop.resolve_compile("on", cpu, deterministic=False, total_steps=10_000)


def test_only_full_batches_go_through_the_compiled_forward(monkeypatch):
    calls = []

    def fake_compile(model, dynamic):
        assert dynamic is False
        return lambda x: calls.append(len(x)) or model(x)

    monkeypatch.setattr(loop.torch, "compile", fake_compile)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    forward = loop.TrainForward(model, batch_size=64, compile_=True)
    for n in (64, 64, 32):  # an epoch of 160 images ends with a batch of 32
        assert forward(torch.zeros(n, 1, 28, 28)).shape == (n, 10)
    assert calls == [64, 64]


def test_bf16_auto_on_a_cpu_without_amx_is_for_the_eager_loop_only(monkeypatch):
    # There the compiled float32 loop beat every bf16 variant; eager, bf16 was faster (docs/training.md).
    cpu = torch.device("cpu")
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    assert loop.resolve_bf16("auto", cpu, compiled=False)
    assert not loop.resolve_bf16("auto", cpu, compiled=True)
    assert loop.resolve_bf16("on", cpu, compiled=True)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True)
    assert loop.resolve_bf16("auto", cpu, compiled=True)


@pytest.mark.slow  # ~25 s when inductor's cache is cold
def test_compiled_forward_computes_what_the_eager_one_does():
    if not loop.compiler_available(torch.device("cpu")):
        pytest.skip("no C++ compiler on PATH for torch.compile")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.BatchNorm2d(4),
                                torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, 10))
    x, y = torch.randn(8, 1, 28, 28), torch.randint(0, 10, (8,))
    eager = model(x)
    (eager_grad,) = torch.autograd.grad(torch.nn.functional.cross_entropy(eager, y), model[0].weight)
    compiled = loop.TrainForward(model, batch_size=8, compile_=True)(x)
    (compiled_grad,) = torch.autograd.grad(torch.nn.functional.cross_entropy(compiled, y), model[0].weight)
    assert torch.allclose(compiled, eager, atol=1e-5)
    # BatchNorm's backward sums with cancellation; fused kernels sum in another order (float32 rounding)
    assert (compiled_grad - eager_grad).abs().max() <= 1e-3 * eager_grad.abs().max()


def test_a_compiled_run_says_so_and_saves_the_plain_models_weights(tmp_path, monkeypatch):
    monkeypatch.setattr(loop.torch, "compile", lambda model, dynamic: model)  # the real one: test above
    result = run(quick(epochs=1, compile="on"), random_mnist(n_train=160), tmp_path / "last.pt")
    assert result.compiled and len(result.history) == 1
    weights = read_checkpoint(tmp_path / "last.pt")["model"]
    assert weights.keys() == loop.build_model("xl-8k").state_dict().keys()


def failing_compile(model, dynamic):
    def compiled(x):
        raise RuntimeError("InvalidCxxCompiler: No working C++ compiler found\n(the rest of inductor's text)")
    return compiled


def test_a_failed_compilation_trains_eagerly_unless_compile_was_asked_for(monkeypatch):
    monkeypatch.setattr(loop.torch, "compile", failing_compile)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    x = torch.zeros(4, 1, 28, 28)
    forward = loop.TrainForward(model, batch_size=4, compile_=True)
    assert torch.equal(forward(x), model(x)) and forward.compiled is None
    assert forward.error == "InvalidCxxCompiler: No working C++ compiler found"
    strict = loop.TrainForward(model, batch_size=4, compile_=True, strict=True)
    with pytest.raises(TrainError, match="torch.compile failed: InvalidCxxCompiler: No working C.. compiler found; "
                                         "expected a working C.. compiler, or --compile off"):
        strict(x)


@pytest.mark.slow  # inductor runs until it finds the compiler broken
def test_a_broken_cxx_compiler_is_reported_by_the_real_torch_compile(monkeypatch):
    import torch._inductor.config as inductor_config

    monkeypatch.setattr(inductor_config.cpp, "cxx", (None, "/bin/false"))
    monkeypatch.setattr(inductor_config, "fx_graph_cache", False)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 5), torch.nn.ReLU(), torch.nn.Flatten(),
                                torch.nn.Linear(3 * 24 * 24, 10))
    forward = loop.TrainForward(model, batch_size=4, compile_=True, strict=True)
    try:
        with pytest.raises(TrainError, match="torch.compile failed: .*compiler"):
            forward(torch.zeros(4, 1, 28, 28))
    finally:
        torch._dynamo.reset()  # forget the failed frame for the tests that compile after this one


def test_val_split_holds_out_the_last_training_images_and_leaves_the_test_set_alone():
    data = random_mnist(n_train=100, n_test=20)
    train, evaluated, name = loop.splits(data, quick(val_split=30))
    assert name == "validation"
    assert torch.equal(train.images, data.train.images[:70]) and torch.equal(evaluated.labels, data.train.labels[70:])
    train, evaluated, name = loop.splits(data, quick())
    assert name == "test" and evaluated is data.test and train is data.train


def test_deskew_treats_training_validation_and_test_images_alike():
    data = random_mnist(n_train=100, n_test=20)
    train, evaluated, _ = loop.splits(data, quick(val_split=30, deskew=True))
    assert torch.equal(train.images, deskew(data.train.images[:70]))
    assert torch.equal(evaluated.images, deskew(data.train.images[70:]))
    _, evaluated, _ = loop.splits(data, quick(deskew=True))
    assert torch.equal(evaluated.images, deskew(data.test.images)) and torch.equal(evaluated.labels, data.test.labels)


def test_val_split_as_large_as_the_training_set_is_refused():
    with pytest.raises(TrainError, match="validation split of 100 images leaves none of the 100 training images"):
        loop.splits(random_mnist(n_train=100), quick(val_split=100))


def test_a_validation_run_is_evaluated_on_held_out_images_and_never_meets_targets(tmp_path):
    result = run(quick(epochs=3, val_split=64), random_mnist(), tmp_path / "last.pt")
    assert result.evaluated_on == "validation" and len(result.history) == 3
    result.history = history([99.9] * 3)
    assert not result.targets_met()  # targets are for test runs


def test_weight_average_starts_with_the_few_steps_there_are_then_follows_slowly():
    model = torch.nn.Sequential(torch.nn.Linear(2, 1, bias=False), torch.nn.BatchNorm1d(1))
    weight = model[0].weight
    with torch.no_grad():
        weight.fill_(0.0)
    average = loop.WeightAverage(model, decay=0.99)
    with torch.no_grad():
        weight.fill_(1.0)
    model(torch.randn(4, 2))  # BatchNorm counts a batch
    average.update()  # decay min(0.99, 2/11): mostly the new weights
    assert average.model[0].weight[0, 0].item() == pytest.approx(9 / 11)
    assert average.model[1].num_batches_tracked.item() == 1
    for _ in range(2000):
        average.update()
    with torch.no_grad():
        weight.fill_(2.0)
    average.update()  # by now the full decay: 1% of the new weights
    assert average.model[0].weight[0, 0].item() == pytest.approx(1.01, abs=1e-4)
    assert not average.model[0].weight.requires_grad


def straight_and_resumed(tmp_path, config, stop_after: int):
    """The same run twice: straight through (straight.pt), and stopped after an epoch then resumed (resumed.pt)."""
    data = random_mnist()
    straight = run(config, data, tmp_path / "straight.pt")

    def stop(metrics):
        if metrics.epoch == stop_after:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(config, data, tmp_path / "resumed.pt", on_epoch=stop)
    return straight, run(config, data, tmp_path / "resumed.pt", resume=True)


def test_resume_with_weight_averaging_continues_exactly(tmp_path):
    straight, resumed = straight_and_resumed(tmp_path, quick(epochs=2, ema=0.9), stop_after=1)
    assert [(m.test_loss, m.test_acc) for m in straight.history] == [(m.test_loss, m.test_acc) for m in resumed.history]
    a, b = (read_checkpoint(tmp_path / name)["average"] for name in ("straight.pt", "resumed.pt"))
    assert a["updates"] == b["updates"] == 2 * 4  # 256 images in batches of 64, two epochs
    assert all(torch.equal(a["weights"][k], b["weights"][k]) for k in a["weights"])


def test_the_averaged_weights_are_the_ones_evaluated(tmp_path):
    data = random_mnist()
    plain = run(quick(epochs=1, ema=0.0), data, tmp_path / "plain.pt")
    averaged = run(quick(epochs=1, ema=0.9), data, tmp_path / "averaged.pt")
    assert plain.history[0].train_loss == averaged.history[0].train_loss  # the same training
    assert plain.history[0].test_loss != averaged.history[0].test_loss  # another model evaluated


def test_nesterov_and_warmup_reach_the_optimizer_and_schedule():
    model = torch.nn.Linear(2, 2)
    optimizer = loop.make_optimizer(quick(nesterov=True), model)
    assert optimizer.param_groups[0]["nesterov"]
    scheduler, per_batch = loop.make_scheduler(quick(epochs=1, lr=0.1, warmup=0.5), optimizer, 10)
    rates = []
    for _ in range(10):
        optimizer.step()
        scheduler.step()
        rates.append(optimizer.param_groups[0]["lr"])
    assert per_batch and max(rates) == pytest.approx(0.1) and rates.index(max(rates)) == 3  # the peak at step 5 of 10


def test_the_div_factors_set_where_onecycle_starts_and_ends():
    model = torch.nn.Linear(2, 2)
    optimizer = loop.make_optimizer(quick(), model)
    scheduler, _ = loop.make_scheduler(quick(epochs=1, lr=0.2, div_factor=10, final_div_factor=100), optimizer, 10)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.02)
    for _ in range(9):
        optimizer.step()
        scheduler.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.0002)


def test_a_momentum_asked_for_is_held_under_onecycle_which_otherwise_cycles_it():
    def momenta(config):
        model = torch.nn.Linear(2, 2)
        optimizer = loop.make_optimizer(config, model)
        scheduler, _ = loop.make_scheduler(config, optimizer, 10)
        seen = []
        for _ in range(10):
            seen.append(optimizer.param_groups[0]["momentum"])
            optimizer.step()
            scheduler.step()
        return seen

    cycled = momenta(config_for("s6-22k", epochs=1))  # every recipe's runs: torch's cycle, 0.95 down to 0.85 and back
    assert cycled[0] == pytest.approx(0.95) and min(cycled) == pytest.approx(0.85, abs=0.01)
    assert set(momenta(config_for("s6-22k", epochs=1, momentum=0.8))) == {0.8}  # was silently cycled 0.95-0.85


def test_a_run_killed_mid_epoch_resumes_from_its_last_checkpoint_as_if_never_stopped(tmp_path):
    """checkpoint_every=0 saves after every batch; the stop comes from inside the batches, with no chance to
    save on the way out, as a killed process has none."""
    data = random_mnist(n_train=320, n_test=32)  # 5 batches of 64 per epoch
    config = quick(epochs=2, ema=0.9, rotation=10.0, shift=2.0, deterministic=True)
    straight = run(config, data, tmp_path / "straight.pt")

    def killed_in_epoch_2_after_3_batches(it, total, epoch, done):
        for i, batch in enumerate(it):
            if epoch == 2 and i == 3:
                raise KeyboardInterrupt
            yield batch

    with pytest.raises(KeyboardInterrupt):
        run(config, data, tmp_path / "killed.pt", wrap_batches=killed_in_epoch_2_after_3_batches, checkpoint_every=0)
    saved = read_checkpoint(tmp_path / "killed.pt")
    assert len(saved["history"]) == 1 and saved["progress"]["epoch"] == 2 and saved["progress"]["steps"] == 3

    seen = []
    resumed = run(config, data, tmp_path / "killed.pt", resume=True,
                  wrap_batches=lambda it, total, epoch, done: seen.append((epoch, total, done)) or it)
    assert seen == [(2, 5, 3)]  # only the two batches left of epoch 2 were trained
    for a, b in zip(straight.history, resumed.history, strict=True):
        assert (a.train_loss, a.train_acc, a.test_loss, a.test_acc, a.lr) == (b.train_loss, b.train_acc, b.test_loss,
                                                                             b.test_acc, b.lr)
    weights_a, weights_b = (read_checkpoint(tmp_path / name)["model"] for name in ("straight.pt", "killed.pt"))
    assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a)
    assert read_checkpoint(tmp_path / "killed.pt")["progress"] is None  # the finished run's last save


def test_checkpoints_within_an_epoch_are_written_only_at_the_interval(tmp_path, monkeypatch):
    saves = []
    real_save = loop.save_checkpoint
    monkeypatch.setattr(loop, "save_checkpoint", lambda *a, **k: saves.append(a[-1]) or real_save(*a, **k))
    run(quick(epochs=1), random_mnist(n_train=320, n_test=32), tmp_path / "a.pt", checkpoint_every=3600)
    assert saves == [None]  # only the epoch's end: no minute had passed


def test_swa_trains_its_epochs_at_a_constant_rate_and_evaluates_the_mean_of_their_weights(tmp_path):
    data = random_mnist()
    seen = []
    result = run(quick(epochs=3, swa=2, swa_lr=0.03), data, tmp_path / "swa.pt", on_epoch=seen.append)
    assert [m.lr for m in result.history][1:] == [0.03, 0.03]
    assert result.history[0].lr != 0.03  # OneCycle over the first epoch only
    state = read_checkpoint(tmp_path / "swa.pt")
    assert state["swa"]["count"] == 2
    live, mean = state["model"], state["swa"]["weights"]
    assert not torch.equal(live["0.weight"], mean["0.weight"])
    # BatchNorm's statistics are measured for the mean weights, not averaged or copied from the live model
    assert not torch.allclose(live["1.running_mean"], mean["1.running_mean"])
    plain = run(quick(epochs=3, swa=2, swa_lr=0.03), data, tmp_path / "again.pt")
    assert [m.test_loss for m in plain.history] == [m.test_loss for m in result.history]  # deterministic


def test_resume_within_swa_continues_exactly(tmp_path):
    straight, resumed = straight_and_resumed(tmp_path, quick(epochs=3, swa=2), stop_after=2)
    assert [(m.test_loss, m.lr) for m in straight.history] == [(m.test_loss, m.lr) for m in resumed.history]
    a, b = (read_checkpoint(tmp_path / name)["swa"] for name in ("straight.pt", "resumed.pt"))
    assert a["count"] == b["count"] == 2 and all(torch.equal(a["weights"][k], b["weights"][k]) for k in a["weights"])


def test_a_checkpoint_names_the_weights_its_last_epoch_was_evaluated_with(tmp_path):
    from xlbackprop.train.checkpoint import evaluated_weights

    def stop_after_first_epoch(metrics):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):  # before the SWA epochs: the moving average, not SWA's unused copy
        run(quick(epochs=3, swa=2), random_mnist(), tmp_path / "early.pt", on_epoch=stop_after_first_epoch)
    early = read_checkpoint(tmp_path / "early.pt")
    assert evaluated_weights(early) is early["average"]["weights"]
    run(quick(epochs=3, swa=2), random_mnist(), tmp_path / "done.pt")
    done = read_checkpoint(tmp_path / "done.pt")
    assert evaluated_weights(done) is done["swa"]["weights"]
    run(quick(epochs=1, ema=0.0), random_mnist(), tmp_path / "plain.pt")
    plain = read_checkpoint(tmp_path / "plain.pt")
    assert evaluated_weights(plain) is plain["model"]


def test_sharpness_aware_gradient_is_the_one_at_the_weights_moved_uphill_and_the_model_is_left_as_it_was():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    model = model.double().train()
    x, y = torch.randn(8, 3, dtype=torch.float64), torch.tensor([0, 1] * 4)

    def loss():
        return torch.nn.functional.cross_entropy(model(x), y)

    loss().backward()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    first = [p.grad.clone() for p in model.parameters()]
    norm = torch.sqrt(sum((g * g).sum() for g in first))
    with torch.no_grad():  # the same step, by hand: move 0.1 along the normalised gradient, take the gradient there
        for p, g in zip(model.parameters(), first):
            p.add_(g * 0.1 / norm)
    expected = torch.autograd.grad(loss(), list(model.parameters()))
    model.load_state_dict(before)

    loop.SharpnessAware(model, 0.1).regrad(loss)

    grads = [p.grad for p in model.parameters()]
    assert all(torch.allclose(g, want, atol=1e-12) for g, want in zip(grads, expected))
    assert not all(torch.allclose(g, plain) for g, plain in zip(grads, first))  # not the plain gradient
    after = model.state_dict()  # the weights moved back, BatchNorm's statistics not updated by the moved pass
    assert all(torch.allclose(after[k].double(), before[k].double(), atol=1e-15) for k in before)


def test_sam_trains_with_twice_the_passes_and_replays_exactly(tmp_path):
    data = random_mnist()
    calls = []
    real = loop.SharpnessAware.regrad
    counting = lambda self, f: calls.append(1) or real(self, f)  # noqa: E731
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(loop.SharpnessAware, "regrad", counting)
        result = run(quick(sam=0.05), data, tmp_path / "sam.pt")
    assert len(calls) == 2 * 4  # every step of both epochs (256 images, batches of 64)
    plain = run(quick(), data, tmp_path / "plain.pt")
    assert [m.train_loss for m in plain.history] != [m.train_loss for m in result.history]
    again = run(quick(sam=0.05), data, tmp_path / "again.pt")
    assert [m.test_loss for m in again.history] == [m.test_loss for m in result.history]


def test_a_run_whose_loss_becomes_nan_stops_with_the_batch_and_rate_not_nan_epochs(tmp_path):
    with pytest.raises(TrainError, match=r"training diverged: the loss was nan at batch \d+ of epoch 1 \(learning "
                                         r"rate 1e\+12\).*try a lower --lr"):
        run(quick(lr=1e12, schedule="none", ema=0.0), random_mnist(), tmp_path / "diverged.pt")
