"""Training configuration: one dataclass tree, loaded from a YAML recipe plus dotted overrides."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from codec.config import CodecConfig, from_dict, load_yaml, to_dict
from codec.discriminators import DiscriminatorConfig
from codec.models.teachers import TeacherConfig, TeacherSpec


@dataclass
class DataConfig:
    """Where the audio is and how it is cut into training examples."""

    train_manifest: str = ""
    valid_manifest: str = ""
    segment_seconds: float = 1.0
    batch_size: int = 8
    num_workers: int = 0
    valid_items: int = 16
    valid_seconds: float = 4.0


@dataclass
class OptimConfig:
    """AdamW for generator and discriminator; warm-up then exponential or cosine decay."""

    lr: float = 3e-4
    discriminator_lr: float = 3e-4
    betas: tuple[float, ...] = (0.8, 0.99)
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    warmup_steps: int = 0
    schedule: str = "exponential"
    gamma: float = 0.999996


@dataclass
class LossConfig:
    """Loss weights keyed by the logged metric names (0 = log only); the GAN starts after `mel_only_steps`."""

    weights: dict = field(
        default_factory=lambda: {
            "loss/mel": 15.0,
            "loss/stft": 0.0,
            "loss/adversarial": 1.0,
            "loss/feature": 2.0,
            "loss/commitment": 0.25,
            "loss/distill": 1.0,
            "loss/level": 0.0,
            "loss/f0": 5.0,  # only decoders with an f0 (harmonic) report it
        }
    )
    gan: Literal["hinge", "lsgan"] = "hinge"
    mel_only_steps: int = 0


@dataclass
class TrainConfig:
    """A whole training run; `max_cpu_seconds` > 0 also stops it after that much CPU time of the process (A/B runs)."""

    model: CodecConfig = field(default_factory=CodecConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    teacher: TeacherSpec = field(default_factory=TeacherConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    out_dir: str = "runs/default"
    init_from: str = ""
    init_fresh: tuple[str, ...] = ()  # generator parameter prefixes that start fresh instead (e.g. a new branch)
    max_steps: int = 1000
    max_cpu_seconds: float = 0.0
    log_every: int = 10
    eval_every: int = 200
    checkpoint_every: int = 500
    keep_last: int = 3
    audio_samples: int = 2
    seed: int = 1234
    device: str = "auto"
    precision: str = "auto"
    threads: int = 0


def load_train_config(path: str | Path, overrides: list[str] | None = None) -> TrainConfig:
    """Recipe YAML (+ `base:` + `a.b=value` overrides) -> TrainConfig; unknown keys raise."""
    cfg = from_dict(TrainConfig, load_yaml(path, overrides))
    defaults = LossConfig().weights
    unknown = sorted(set(cfg.loss.weights) - set(defaults))
    if unknown:
        raise ValueError(f"{path}: unknown loss weights {unknown}; known: {sorted(defaults)}")
    cfg.loss.weights = {**defaults, **{k: float(v) for k, v in cfg.loss.weights.items()}}
    if cfg.optim.schedule not in ("exponential", "cosine", "constant"):
        raise ValueError(f"{path}: optim.schedule must be exponential, cosine or constant")
    return cfg


def train_config_dict(cfg: TrainConfig) -> dict:
    """Plain dict of a resolved config (what checkpoints store)."""
    return to_dict(cfg)
