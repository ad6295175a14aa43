"""Tests for codec.losses: spectral, adversarial and distillation losses."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise

import pytest
import torch

from codec.losses import (
    DistillationHead,
    MultiResolutionSTFTLoss,
    MultiScaleMelLoss,
    PhoneHead,
    cosine_distillation_loss,
    discriminator_loss,
    feature_matching_loss,
    generator_adversarial_loss,
    level_loss,
    phone_accuracy,
    phone_loss,
    resample_frames,
)

SR = 16000


@pytest.fixture(autouse=True, scope="module")
def _single_thread() -> Iterator[None]:
    """Tiny tensors: one intra-op thread avoids OpenMP spin overhead on a shared CPU."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def mel_loss() -> MultiScaleMelLoss:
    return MultiScaleMelLoss(SR)


def _speechlike(batch: int = 2, length: int = 4000, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    t = torch.arange(length) / SR
    f0 = 100 + 100 * torch.rand(batch, 1, generator=gen)
    harmonics = sum(torch.sin(2 * torch.pi * k * f0 * t) / k for k in range(1, 8))
    return (0.3 * harmonics + 0.01 * torch.randn(batch, length, generator=gen)).unsqueeze(1)


# ---------------------------------------------------------------- spectral


def test_mel_loss_zero_for_identical(mel_loss: MultiScaleMelLoss) -> None:
    x = _speechlike()
    assert mel_loss(x, x.clone()).item() == pytest.approx(0.0, abs=1e-6)


def test_mel_loss_monotonic_in_noise(mel_loss: MultiScaleMelLoss) -> None:
    x = _speechlike()
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(1))
    values = [mel_loss(x + level * noise, x).item() for level in (0.0, 0.003, 0.03, 0.3)]
    assert values[0] == pytest.approx(0.0, abs=1e-6)
    assert all(a < b for a, b in pairwise(values)), values


def test_mel_loss_gradient_flows_to_estimate(mel_loss: MultiScaleMelLoss) -> None:
    x = _speechlike()
    estimate = (x + 0.05 * torch.randn_like(x)).requires_grad_(True)
    loss = mel_loss(estimate, x)
    assert loss.dim() == 0 and loss.item() > 0
    loss.backward()
    assert estimate.grad is not None and torch.isfinite(estimate.grad).all() and estimate.grad.abs().sum() > 0


def test_mel_loss_accepts_2d_and_weights() -> None:
    x = _speechlike()[:, 0]
    y = x + 0.05 * torch.randn_like(x)
    log_only = MultiScaleMelLoss(SR, log_weight=1.0, mag_weight=0.0)(y, x)
    mag_only = MultiScaleMelLoss(SR, log_weight=0.0, mag_weight=1.0)(y, x)
    both = MultiScaleMelLoss(SR, log_weight=1.0, mag_weight=1.0)(y, x)
    assert log_only > 0 and mag_only > 0
    assert both.item() == pytest.approx(log_only.item() + mag_only.item(), rel=1e-5)


def test_mel_loss_scales_windows_with_sample_rate() -> None:
    loss = MultiScaleMelLoss(24000, window_lengths=(32, 2048), n_mels=(5, 320))
    assert loss.window_lengths == (48, 3072)
    assert loss.hop_lengths == (12, 768)


def test_mel_loss_ignores_padding(mel_loss: MultiScaleMelLoss) -> None:
    x = _speechlike(batch=2, length=4000)
    y = x + 0.05 * torch.randn_like(x)
    lengths = torch.tensor([4000, 2500])
    base = mel_loss(y, x, lengths)
    y2, x2 = y.clone(), x.clone()
    y2[1, :, 2500:] = torch.randn(1500)
    x2[1, :, 2500:] = 5.0
    assert mel_loss(y2, x2, lengths).item() == pytest.approx(base.item(), rel=1e-5)
    # Extra padding on a single item does not change its loss.
    single = mel_loss(y[1:, :, :2500], x[1:, :, :2500], lengths[1:])
    padded = mel_loss(y2[1:], x2[1:], lengths[1:])
    assert padded.item() == pytest.approx(single.item(), rel=1e-4)


def test_stft_loss_zero_identical_positive_otherwise() -> None:
    loss_fn = MultiResolutionSTFTLoss()
    x = _speechlike()
    assert loss_fn(x, x.clone()).item() == pytest.approx(0.0, abs=1e-6)
    estimate = (x + 0.05 * torch.randn_like(x)).requires_grad_(True)
    loss = loss_fn(estimate, x)
    assert loss.dim() == 0 and loss.item() > 0
    loss.backward()
    assert estimate.grad is not None and torch.isfinite(estimate.grad).all()
    assert loss_fn(x + 0.3 * torch.randn_like(x), x) > loss


def test_stft_loss_ignores_padding() -> None:
    loss_fn = MultiResolutionSTFTLoss(fft_sizes=(256, 512), hop_sizes=(64, 128), win_lengths=(256, 400))
    x = _speechlike()
    y = x + 0.05 * torch.randn_like(x)
    lengths = torch.tensor([4000, 3000])
    base = loss_fn(y, x, lengths)
    y2 = y.clone()
    y2[1, :, 3000:] = 3.0
    assert loss_fn(y2, x, lengths).item() == pytest.approx(base.item(), rel=1e-5)


def test_mel_loss_rejects_shape_mismatch(mel_loss: MultiScaleMelLoss) -> None:
    with pytest.raises(ValueError):
        mel_loss(torch.zeros(2, 1, 100), torch.zeros(2, 1, 101))


# ---------------------------------------------------------------- adversarial


@pytest.mark.parametrize("kind", ["hinge", "lsgan"])
def test_discriminator_loss_sign_behaviour(kind: str) -> None:
    shape = (2, 1, 10, 3)
    high, low = torch.full(shape, 2.0), torch.full(shape, -2.0)
    good = discriminator_loss([high, high[..., :2]], [low, low[..., :2]], kind)
    bad = discriminator_loss([low, low[..., :2]], [high, high[..., :2]], kind)
    assert good.dim() == 0
    assert good.item() < bad.item()
    if kind == "hinge":
        assert good.item() == 0.0
    # Generator: fake logits scored as real -> low loss.
    assert generator_adversarial_loss([high], kind) < generator_adversarial_loss([low], kind)


@pytest.mark.parametrize("kind", ["hinge", "lsgan"])
def test_adversarial_gradients(kind: str) -> None:
    fake = torch.randn(2, 1, 7, 5, requires_grad=True)
    generator_adversarial_loss([fake], kind).backward()
    assert fake.grad is not None and fake.grad.abs().sum() > 0
    real = torch.randn(2, 1, 7, 5, requires_grad=True)
    fake2 = torch.randn(2, 1, 7, 5, requires_grad=True)
    discriminator_loss([real], [fake2], kind).backward()
    assert real.grad is not None and fake2.grad is not None


def test_lsgan_optimum_values() -> None:
    ones, zeros = torch.ones(3, 4), torch.zeros(3, 4)
    assert discriminator_loss([ones], [zeros], "lsgan").item() == 0.0
    assert generator_adversarial_loss([ones], "lsgan").item() == 0.0


def test_adversarial_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        discriminator_loss([torch.zeros(1)], [torch.zeros(1)], "wasserstein")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        discriminator_loss([torch.zeros(1)], [], "hinge")


def test_feature_matching() -> None:
    real = [[torch.randn(2, 4, 10, 3), torch.randn(2, 8, 4, 3)], [torch.randn(2, 4, 6, 6)]]
    same = [[f.clone().requires_grad_(True) for f in maps] for maps in real]
    assert feature_matching_loss(real, same).item() == 0.0
    assert feature_matching_loss(real, same, relative=True).item() == 0.0
    fake = [[(f + 0.5 * torch.randn_like(f)).requires_grad_(True) for f in maps] for maps in real]
    real_leaf = [[f.clone().requires_grad_(True) for f in maps] for maps in real]
    loss = feature_matching_loss(real_leaf, fake)
    assert loss.item() > 0
    loss.backward()
    assert all(f.grad is not None for maps in fake for f in maps)
    assert all(f.grad is None for maps in real_leaf for f in maps)  # real features are detached
    # Relative normalisation makes the loss invariant to the scale of a layer.
    scaled_real = [[10 * f for f in maps] for maps in real]
    scaled_fake = [[10 * f.detach() for f in maps] for maps in fake]
    plain_fake = [[f.detach() for f in maps] for maps in fake]
    assert feature_matching_loss(scaled_real, scaled_fake, relative=True).item() == pytest.approx(
        feature_matching_loss(real, plain_fake, relative=True).item(), rel=1e-4
    )


# ---------------------------------------------------------------- distillation


def test_cosine_distillation_identical_is_zero() -> None:
    torch.manual_seed(0)
    student = torch.randn(2, 16, 20)
    assert cosine_distillation_loss(student, student.transpose(1, 2).clone()).item() == pytest.approx(0.0, abs=1e-6)
    assert cosine_distillation_loss(student, student.clone(), teacher_layout="bdt").item() == pytest.approx(
        0.0, abs=1e-6
    )


def test_distillation_head_exact_projection_is_near_zero() -> None:
    torch.manual_seed(0)
    head = DistillationHead(8, 24)
    student = torch.randn(3, 8, 30)
    weight = torch.randn(24, 8)
    teacher = torch.einsum("td,bdf->bft", weight, student)  # [B, F, Dt]
    assert head(student, teacher).item() > 0.1
    with torch.no_grad():
        head.proj.weight.copy_(weight)
        head.proj.bias.zero_()
    assert head(student, teacher).item() < 1e-5


def test_distillation_head_training_reduces_loss() -> None:
    torch.manual_seed(0)
    head = DistillationHead(8, 24)
    student = torch.randn(2, 8, 25)
    teacher = torch.einsum("td,bdf->btf", torch.randn(24, 8), student) + 0.1 * torch.randn(2, 24, 25)
    optimizer = torch.optim.Adam(head.parameters(), lr=0.05)
    losses = []
    for _ in range(30):
        loss = head(student, teacher, teacher_layout="bdt")
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    assert losses[-1] < 0.05


def test_distillation_gradient_flows_to_student() -> None:
    student = torch.randn(2, 8, 10, requires_grad=True)
    head = DistillationHead(8, 12)
    head(student, torch.randn(2, 40, 12)).backward()
    assert student.grad is not None and student.grad.abs().sum() > 0


def test_teacher_at_different_frame_rate() -> None:
    # A smooth signal sampled at 50 Hz (teacher) and at 12.5 Hz (student) on the same time axis.
    seconds = 2.0
    dims = torch.arange(1, 7, dtype=torch.float64).unsqueeze(0)

    def features(rate: float) -> torch.Tensor:
        frames = int(seconds * rate)
        centres = (torch.arange(frames, dtype=torch.float64) + 0.5) / rate
        return torch.cos(0.7 * dims * centres.unsqueeze(1) + dims).float()  # [F, D]

    teacher = features(50.0).unsqueeze(0)  # [1, 100, 6]
    student = features(12.5).T.unsqueeze(0)  # [1, 6, 25]
    assert cosine_distillation_loss(student, teacher).item() < 1e-3
    # Off-by-one teacher frame counts (49 vs 50 frames) are handled too.
    teacher_49 = features(50.0)[:98].unsqueeze(0)
    assert cosine_distillation_loss(student, teacher_49).item() < 1e-2
    student_50 = features(50.0)[:50].T.unsqueeze(0)
    teacher_49b = features(49.0)[:49].unsqueeze(0)
    assert cosine_distillation_loss(student_50, teacher_49b).item() < 1e-2
    # A mismatched teacher (time-reversed) gives a clearly larger loss.
    assert cosine_distillation_loss(student, teacher.flip(1)).item() > 0.05


def test_resample_frames_identity_and_endpoints() -> None:
    x = torch.randn(2, 7, 3)
    lengths = torch.tensor([7, 5])
    same = resample_frames(x, lengths, lengths, 7)
    assert torch.allclose(same[0], x[0])
    assert torch.allclose(same[1, :5], x[1, :5])
    up = resample_frames(x, torch.tensor([7, 7]), torch.tensor([14, 14]), 14)
    assert up.shape == (2, 14, 3)
    assert torch.allclose(up[:, 0], x[:, 0]) and torch.allclose(up[:, -1], x[:, -1])


def test_distillation_padding_frames_ignored() -> None:
    torch.manual_seed(0)
    student = torch.randn(2, 6, 10)
    teacher = torch.randn(2, 40, 6)
    student_lengths = torch.tensor([10, 6])
    teacher_lengths = torch.tensor([40, 24])
    base = cosine_distillation_loss(student, teacher, student_lengths, teacher_lengths)
    teacher2, student2 = teacher.clone(), student.clone()
    teacher2[1, 24:] = torch.randn(16, 6) * 100
    student2[1, :, 6:] = torch.randn(6, 4)
    assert cosine_distillation_loss(student2, teacher2, student_lengths, teacher_lengths).item() == pytest.approx(
        base.item(), rel=1e-6
    )
    # Teacher lengths derived from student lengths when omitted (40 / 10 = 4 teacher frames per student frame).
    derived = cosine_distillation_loss(student, teacher, student_lengths)
    assert derived.item() == pytest.approx(base.item(), rel=1e-6)
    changed = cosine_distillation_loss(student2, teacher2, student_lengths)
    assert changed.item() == pytest.approx(base.item(), rel=1e-6)
    # Per-item result equals the unpadded computation.
    alone = cosine_distillation_loss(student[1:, :, :6], teacher[1:, :24])
    both = cosine_distillation_loss(student, teacher, student_lengths, teacher_lengths)
    first = cosine_distillation_loss(student[:1], teacher[:1])
    assert both.item() == pytest.approx((first.item() * 10 + alone.item() * 6) / 16, rel=1e-5)


def test_distillation_layout_errors() -> None:
    with pytest.raises(ValueError, match="ambiguous"):
        cosine_distillation_loss(torch.randn(1, 8, 4), torch.randn(1, 8, 8))
    with pytest.raises(ValueError):
        cosine_distillation_loss(torch.randn(1, 8, 4), torch.randn(1, 5, 7))
    assert cosine_distillation_loss(torch.randn(1, 8, 4), torch.randn(1, 8, 8), teacher_layout="btd").dim() == 0


def test_phone_head() -> None:
    torch.manual_seed(0)
    head = PhoneHead(8, 5)
    features = torch.randn(2, 8, 12)
    targets = torch.randint(0, 5, (2, 12))
    targets[0, :3] = -1
    loss = head(features, targets)
    assert loss.dim() == 0 and loss.item() > 0
    # Ignored frames and padding do not matter.
    lengths = torch.tensor([12, 8])
    base = head(features, targets, lengths)
    targets2 = targets.clone()
    targets2[1, 8:] = (targets2[1, 8:] + 1) % 5
    assert head(features, targets2, lengths).item() == pytest.approx(base.item(), rel=1e-6)
    # Everything ignored -> zero loss, still differentiable.
    empty = head(features, torch.full((2, 12), -1))
    assert empty.item() == 0.0
    empty.backward()
    # Training fits the labels.
    optimizer = torch.optim.Adam(head.parameters(), lr=0.1)
    for _ in range(60):
        optimizer.zero_grad()
        head(features, targets).backward()
        optimizer.step()
    assert head(features, targets).item() < 0.5 * loss.item()
    assert phone_accuracy(head.logits(features), targets).item() > 0.8


def test_phone_loss_resamples_targets() -> None:
    logits = torch.zeros(1, 3, 4)
    logits[0, 2] = 10.0
    targets = torch.full((1, 16), 2)  # labels at 4x the codec frame rate
    assert phone_loss(logits, targets).item() < 1e-3


def test_level_loss_measures_the_gain_error_in_bels_and_ignores_padding():
    torch.manual_seed(0)
    target = 0.1 * torch.randn(2, 16000)
    quieter = target * 10 ** (-3.5 / 20)  # 3.5 dB too quiet
    assert abs(float(level_loss(quieter, target)) - 0.35) < 1e-4
    lengths = torch.tensor([16000, 8000])
    garbage_in_padding = target.clone()
    garbage_in_padding[1, 8000:] = 1.0
    assert float(level_loss(garbage_in_padding, target, lengths)) < 1e-6
    silence = torch.zeros(1, 3200)  # both below the -60 dB floor: no loss from silent frames
    assert float(level_loss(silence, 1e-5 * torch.randn(1, 3200))) == 0.0
    loud = target.clone().requires_grad_(True)
    level_loss(loud * 0.5, target).backward()
    assert loud.grad is not None and torch.isfinite(loud.grad).all()
