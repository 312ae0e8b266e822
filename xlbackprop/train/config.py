"""One training run's settings, nanoGPT style: a dataclass whose defaults come from the model's recipe."""

from dataclasses import asdict, dataclass, fields

from xlbackprop.errors import TrainError


@dataclass
class TrainConfig:
    model: str = "s6-19k"
    epochs: int = 19
    batch_size: int = 128
    optimizer: str = "sgd"  # sgd (with momentum) | adam
    lr: float = 0.05  # the peak rate for onecycle, the starting rate otherwise
    momentum: float = 0.9
    # onecycle: the momentum falls from 0.95 to 0.85 as the rate rises and back (torch's default, which every
    # recipe's runs used); False holds it at `momentum`. The CLI's --momentum sets this False.
    cycle_momentum: bool = True
    nesterov: bool = False
    weight_decay: float = 0.0
    schedule: str = "onecycle"  # onecycle (stepped per batch) | step (stepped per epoch) | none
    warmup: float = 0.3  # onecycle: the fraction of the steps spent rising to the peak rate
    div_factor: float = 25.0  # onecycle: the rate starts at lr / div_factor (torch's default)
    final_div_factor: float = 1e4  # onecycle: and ends at that start / final_div_factor (torch's default)
    step_size: int = 6  # epochs between decays of the step schedule
    gamma: float = 0.1
    label_smoothing: float = 0.0
    ema: float = 0.0  # evaluate an exponential moving average of the weights with this decay per step; 0 = off
    rotation: float = 7.0  # degrees of random rotation applied to each training batch; 0 turns it off
    interpolation: str = "bilinear"  # how warped training images are resampled: bilinear | nearest
    shift: float = 0.0  # pixels each training image moves, at most, along each axis; 0 turns it off
    scale: float = 0.0  # each training image is resized by a random factor in [1 - scale, 1 + scale]; 0 = off
    swa: int = 0  # the last N epochs train at the constant rate swa_lr and the mean of their weights is evaluated
    swa_lr: float = 0.05
    elastic: float = 0.0  # pixels (standard deviation) of a smooth random bend of each training image; 0 = off
    deskew: bool = False  # shear every image (training and test) upright and centre it before anything else
    sam: float = 0.0  # rho of sharpness-aware minimization: how far the weights move to take the gradient; 0 = off
    dropout: float | None = None  # the rate of the model's dropout layers (models with some); None = the model's own
    seed: int = 1
    deterministic: bool = False
    device: str = "auto"  # auto | cpu | cuda
    bf16: str = "auto"  # auto | on | off: bfloat16 autocast
    compile: str = "auto"  # auto | on | off: torch.compile the training forward (auto: long runs, compiler found)
    threads: int = 2
    train_limit: int = 0  # use only the first N training images (0 = all); for quick tests
    test_limit: int = 0
    val_split: int = 0  # hold out the last N training images and evaluate on them instead of the test set

    def check(self) -> "TrainConfig":
        if self.epochs < 1:
            raise TrainError(f"epochs is {self.epochs}, expected at least 1")
        if self.batch_size < 1:
            raise TrainError(f"batch size is {self.batch_size}, expected at least 1")
        if self.lr <= 0:
            raise TrainError(f"learning rate is {self.lr}, expected a positive number")
        if not 0 < self.warmup < 1:
            raise TrainError(f"warmup is {self.warmup}, expected a fraction of the run between 0 and 1")
        if self.div_factor < 1 or self.final_div_factor < 1:
            raise TrainError(f"div factors are {self.div_factor} and {self.final_div_factor}, expected 1 or more "
                             "(the rate starts below its peak and ends below its start)")
        if not 0 <= self.ema < 1:
            raise TrainError(f"ema decay is {self.ema}, expected 0 (off) or a number below 1 such as 0.99")
        if self.shift < 0:
            raise TrainError(f"shift is {self.shift} pixels, expected 0 (none) or more")
        if not 0 <= self.swa < self.epochs:
            raise TrainError(f"swa is {self.swa} epochs, expected 0 (off) or fewer than the run's {self.epochs}")
        if not 0 <= self.scale < 1:
            raise TrainError(f"scale is {self.scale}, expected 0 (off) or a fraction below 1 such as 0.1")
        if self.swa_lr <= 0:
            raise TrainError(f"swa rate is {self.swa_lr}, expected a positive number")
        if self.elastic < 0:
            raise TrainError(f"elastic is {self.elastic} pixels, expected 0 (none) or more")
        if self.sam < 0:
            raise TrainError(f"sam is {self.sam}, expected 0 (off) or a positive distance such as 0.05")
        if self.dropout is not None and not 0 <= self.dropout < 1:
            raise TrainError(f"dropout is {self.dropout}, expected a rate from 0 up to (not including) 1")
        if self.val_split < 0:
            raise TrainError(f"validation split is {self.val_split} images, expected 0 (none) or more")
        for name, allowed in [
            ("optimizer", ("sgd", "adam")),
            ("schedule", ("onecycle", "step", "none")),
            ("device", ("auto", "cpu", "cuda")),
            ("bf16", ("auto", "on", "off")),
            ("compile", ("auto", "on", "off")),
            ("interpolation", ("bilinear", "nearest")),
        ]:
            if getattr(self, name) not in allowed:
                raise TrainError(f"{name} is {getattr(self, name)!r}, expected one of {', '.join(allowed)}")
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


# Recipes that reach each model's targets on this project's machine (see docs/training.md for the runs). s6-19k's was
# chosen on a validation split (the last 10,000 training images). It is 10 epochs since issue 18's margin: over 6
# epochs one test seed of ten held 99.39% (run 65). On that split seeds 1-3 held 99.46/99.54/99.50% over 10
# epochs, against 99.28/99.36/99.27 (5), 99.47/99.40/99.45 (6), 99.35/99.40/99.45 (7), 99.33/99.48/99.39 (8)
# (runs 52-60, 71-76). s6-22k's is the same recipe over 15 epochs with rotation 7 (issue 18: rotation 10 held
# 99.49% once in its test grid): on that split seeds 1-3 held 99.60/99.56/99.53% against 99.53/99.51/99.51% for
# rotation 10, 99.52% (seed 1) for rotation 5, 99.50/99.47% with a 2-pixel shift and 99.46/99.47% with weight decay
# 5e-4 (runs 138-148, 163-164). On the test set its grid still held 99.44-99.63%, two runs under the target
# (runs 149-151, 156-162), the margin open (docs/training-speed.md); nothing tried since on that split held more
# (dropout, label smoothing, epochs, batch, rate, averages, elastic bends, SWA, SAM, Adam, resizing, a held
# momentum, warm-up, OneCycle's div factors, deskewed images, weight decay 1e-4: runs 169-234).
# xl-8k's is the fast recipe over 15 epochs, since its layers after the pool became depthwise-separable: on that
# split seeds 1-3 held 99.42/99.45/99.48% against 99.36/99.33/99.41% for the old layout with the same recipe, and
# 99.26-99.29% for the old layout's own recipe (docs/training-speed.md).
FAST = dict(batch_size=64, lr=0.2, nesterov=True, warmup=0.2, ema=0.99, rotation=10.0, label_smoothing=0.1)
RECIPES = {
    "s6-19k": dict(FAST, epochs=10),
    "s6-22k": dict(FAST, epochs=15, rotation=7.0),
    "xl-8k": dict(FAST, epochs=15),
}


# Variants `auto` never picks for a model (issue 18: where a variant falls short of the margin in the seed grid,
# auto drops it): s6-19k compiled float32 held 99.42% with seed 4 over the 10-epoch recipe, under the 99.43% margin,
# where the other three variants' lowest were 99.44-99.48% (docs/training-speed.md, the grid). Asked for with
# --compile on --bf16 off, it still runs.
NOT_AUTO = {"s6-19k": ("compiled float32",)}


def config_for(model: str, **overrides) -> TrainConfig:
    """The model's recipe, with any setting given explicitly (not None) taking precedence."""
    values = {"model": model, **RECIPES.get(model, {})}
    values.update({k: v for k, v in overrides.items() if v is not None})
    if overrides.get("momentum") is not None:
        values.setdefault("cycle_momentum", False)  # a momentum asked for is the one used, not cycled over
    return TrainConfig(**values).check()
