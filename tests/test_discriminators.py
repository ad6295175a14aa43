"""Tests for codec.discriminators."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from codec.discriminators import (
    DiscriminatorConfig,
    DiscriminatorOutput,
    MultiDiscriminator,
    PeriodDiscriminator,
    STFTDiscriminator,
    split_outputs,
)
from codec.losses import discriminator_loss, feature_matching_loss, generator_adversarial_loss

TINY = DiscriminatorConfig(periods=(2, 3, 5), stft_windows=(256, 128), channels=4, period_max_channels=16)


@pytest.fixture(autouse=True, scope="module")
def _single_thread() -> Iterator[None]:
    """Tiny tensors: one intra-op thread avoids OpenMP spin overhead on a shared CPU."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.fixture(scope="module")
def tiny() -> MultiDiscriminator:
    torch.manual_seed(0)
    return MultiDiscriminator(TINY)


@pytest.mark.parametrize("length", [1000, 1237, 2311])
def test_outputs_for_various_lengths(tiny: MultiDiscriminator, length: int) -> None:
    outs = tiny(torch.randn(2, 1, length))
    assert len(outs) == tiny.num_discriminators == 5
    for out in outs:
        assert isinstance(out, DiscriminatorOutput)
        assert out.logits.shape[0] == 2 and out.logits.shape[1] == 1
        assert torch.isfinite(out.logits).all()
        assert out.features and all(f.shape[0] == 2 for f in out.features)
    for out, period in zip(outs[:3], TINY.periods):
        assert out.logits.shape[-1] == period


def test_accepts_2d_input_and_short_audio(tiny: MultiDiscriminator) -> None:
    outs = tiny(torch.randn(2, 7))  # shorter than the largest period's padding and every STFT window
    assert len(outs) == 5


def test_gradient_flows_to_input(tiny: MultiDiscriminator) -> None:
    wav = torch.randn(2, 1, 1500, requires_grad=True)
    outs = tiny(wav)
    logits, _ = split_outputs(outs)
    generator_adversarial_loss(logits).backward()
    assert wav.grad is not None and torch.isfinite(wav.grad).all() and wav.grad.abs().sum() > 0
    assert all(p.grad is not None for p in tiny.parameters())
    tiny.zero_grad()


def test_feature_matching_with_discriminator(tiny: MultiDiscriminator) -> None:
    real = torch.randn(2, 1, 1200)
    fake = (real + 0.1 * torch.randn_like(real)).requires_grad_(True)
    real_logits, real_feats = split_outputs(tiny(real))
    fake_logits, fake_feats = split_outputs(tiny(fake))
    assert feature_matching_loss(real_feats, real_feats).item() == 0.0
    fm = feature_matching_loss(real_feats, fake_feats)
    assert fm.item() > 0
    fm.backward()
    assert fake.grad is not None
    d_loss = discriminator_loss(real_logits, [l.detach() for l in fake_logits])
    assert d_loss.dim() == 0 and torch.isfinite(d_loss)
    tiny.zero_grad()


def test_period_fold_handles_non_divisible_lengths() -> None:
    disc = PeriodDiscriminator(7, channels=2, max_channels=4)
    for length in (14, 15, 20, 3):
        folded = disc.fold(torch.randn(1, 1, length))
        assert folded.shape[-1] == 7 and folded.shape[-2] == -(-length // 7)


def test_stft_discriminator_bands() -> None:
    banded = STFTDiscriminator(256, channels=4)
    plain = STFTDiscriminator(256, channels=4, bands=None)
    assert len(banded.bands) == 5 and len(plain.bands) == 1
    assert banded.bands[0][0] == 0 and banded.bands[-1][1] == 129
    x = torch.randn(1, 1, 800)
    assert banded.spectrogram(x).shape == (1, 2, 800 // 64 + 1, 129)
    assert torch.isfinite(plain(x).logits).all()
    with pytest.raises(ValueError):
        STFTDiscriminator(256, bands=((0.5, 0.4),))


def test_default_parameter_counts_sane() -> None:
    disc = MultiDiscriminator()
    assert disc.num_discriminators == 8
    period, stft = _params(disc.period), _params(disc.stft)
    # HiFi-GAN-sized MPD (~41M) and a light banded STFT discriminator (~1.4M).
    assert 30e6 < period < 50e6
    assert 0.5e6 < stft < 3e6
    tiny = MultiDiscriminator(TINY)
    assert _params(tiny) < 200_000


def test_config_from_dict_and_validation() -> None:
    from codec.config import from_dict

    cfg = from_dict(DiscriminatorConfig, {"periods": [2, 3], "stft_windows": [512], "stft_bands": [[0, 0.5], [0.5, 1]]})
    assert cfg.periods == (2, 3) and cfg.stft_bands == ((0.0, 0.5), (0.5, 1.0))
    with pytest.raises(ValueError):
        from_dict(DiscriminatorConfig, {"bogus": 1})
    with pytest.raises(ValueError):
        DiscriminatorConfig(periods=(), stft_windows=())
    only_stft = MultiDiscriminator(DiscriminatorConfig(periods=(), stft_windows=(128,), channels=4))
    assert len(only_stft(torch.randn(1, 1, 500))) == 1
