"""`torchaudio` teacher: a frozen torchaudio wav2vec2-family model (HuBERT, WavLM, XLS-R...) truncated to a layer."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from codec.io.audio import resample
from codec.schema import bounded


@dataclass
class TorchaudioTeacherConfig:
    """`model` is a torchaudio.models builder (hubert_base, wavlm_base, wav2vec2_xlsr_300m, ...) with weights
    from `weights` (a local safetensors/state-dict file) or, for an upper-case pipeline name (HUBERT_BASE,
    WAVLM_BASE_PLUS, WAV2VEC2_XLSR53, ...), the pipeline's own download; `random_init: true` builds it with
    random weights (tests, smoke runs). Only the first `layer` transformer layers are kept."""

    kind: Literal["torchaudio"] = "torchaudio"
    model: str = "hubert_base"
    layer: int = bounded(9, 1, 1000)
    weights: str = ""
    random_init: bool = False


class TorchaudioTeacher(nn.Module):
    """A frozen torchaudio wav2vec2-family model truncated to `layer`; audio -> features [B, F', D] at 50 Hz."""

    sample_rate = 16000
    frame_rate = 50.0

    def __init__(self, cfg: TorchaudioTeacherConfig) -> None:
        super().__init__()
        self.model: Any = build_torchaudio_model(cfg)
        self.layer = cfg.layer
        self.dim = self.model.encoder.feature_projection.projection.out_features
        self.use_lengths = "wavlm" not in cfg.model.lower()  # torchaudio's WavLM takes no padding mask
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> TorchaudioTeacher:
        return super().train(False)  # always frozen, no dropout

    @torch.no_grad()
    def features(self, audio: torch.Tensor, lengths: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """Audio [B, 1, T] at `sample_rate` -> features [B, F', D]."""
        wav = resample(audio[:, 0], sample_rate, self.sample_rate)
        lengths = (lengths * self.sample_rate + sample_rate - 1) // sample_rate
        features, _ = self.model.extract_features(wav, lengths if self.use_lengths else None, num_layers=self.layer)
        return features[-1]


def build_torchaudio_model(cfg: TorchaudioTeacherConfig) -> Any:
    """Build (and load) the torchaudio model named by `cfg.model`, keeping `cfg.layer` layers."""
    import torchaudio

    if cfg.model.isupper():
        bundle = getattr(torchaudio.pipelines, cfg.model, None)
        if bundle is None:
            raise ValueError(f"teacher.model {cfg.model!r} is not a torchaudio pipeline")
        if cfg.random_init:
            raise ValueError("teacher.random_init needs a builder name (e.g. hubert_base), not a pipeline")
        try:
            model: Any = bundle.get_model()
        except Exception as err:
            raise ValueError(
                f"could not fetch {cfg.model} weights ({err}); download them elsewhere and set teacher.weights"
            ) from None
    else:
        builder = getattr(torchaudio.models, cfg.model, None)
        if builder is None or not callable(builder):
            raise ValueError(f"teacher.model {cfg.model!r} is not a torchaudio.models builder")
        model = builder()
        if not cfg.random_init:
            if not cfg.weights:
                raise ValueError(
                    "teacher.weights must name a local weights file (or set teacher.random_init for tests)"
                )
            _load_teacher_weights(model, Path(cfg.weights), cfg.layer)
    layers = model.encoder.transformer.layers
    if not 1 <= cfg.layer <= len(layers):
        raise ValueError(f"teacher.layer must be in [1, {len(layers)}], got {cfg.layer}")
    model.encoder.transformer.layers = layers[: cfg.layer]
    model.aux = None
    return model


def _load_teacher_weights(model: nn.Module, path: Path, layer: int) -> None:
    from codec.io.weights import read_safetensors

    if path.suffix == ".safetensors":
        state = read_safetensors(path)
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
    kept = {k: v for k, v in state.items() if not _beyond_layer(k, layer)}
    missing, _ = model.load_state_dict(kept, strict=False)
    needed = [k for k in missing if not _beyond_layer(k, layer) and not k.startswith("aux")]
    if needed:
        raise ValueError(f"{path}: teacher weights lack {needed[:5]}")


def _beyond_layer(key: str, layer: int) -> bool:
    parts = key.split(".")
    if "layers" in parts:
        index = parts.index("layers") + 1
        return index < len(parts) and parts[index].isdigit() and int(parts[index]) >= layer
    return False
