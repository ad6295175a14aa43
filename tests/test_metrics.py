"""Tests for codec.metrics on a synthesized speech-like signal and synthetic code/phone sequences."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
import torch
import torchaudio.functional as AF

from codec import metrics as M

SR = 16000


def speech_like(sample_rate: int = SR, seconds: float = 2.5, seed: int = 0) -> torch.Tensor:
    """Harmonic source with gliding pitch through moving formants, syllable-rate AM, pauses, fricatives."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(sample_rate * seconds)) / sample_rate
    f0 = 125 + 30 * np.sin(2 * np.pi * 0.7 * t) + 12 * np.sin(2 * np.pi * 2.3 * t + 1.0)
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    formants = [
        (520 + 250 * np.sin(2 * np.pi * 1.1 * t), 90.0),
        (1500 + 550 * np.sin(2 * np.pi * 0.8 * t + 0.5), 120.0),
        (2500 + 300 * np.sin(2 * np.pi * 0.5 * t + 1.0), 170.0),
        (3600 + 200 * np.sin(2 * np.pi * 0.3 * t), 250.0),
    ]
    voiced = np.zeros_like(t)
    for k in range(1, int(sample_rate / 2 / 60)):
        freq = k * f0
        amp = np.full_like(t, 1.0 / k)  # -6 dB/octave source tilt
        for centre, bandwidth in formants:  # cascade of second-order resonances
            amp *= centre**2 / np.sqrt((centre**2 - freq**2) ** 2 + (bandwidth * freq) ** 2)
        voiced += np.where(freq < 0.45 * sample_rate, amp, 0.0) * np.sin(k * phase)
    syllables = np.clip(np.sin(2 * np.pi * 3.5 * t), 0, None) ** 0.6
    words = ((t > 0.15) & (t < 1.15)) | ((t > 1.45) & (t < 2.35))
    fricative_env = sum(np.exp(-0.5 * ((t - c) / 0.03) ** 2) for c in (0.45, 1.0, 1.75))
    fricatives = np.diff(rng.standard_normal(len(t) + 1)) * fricative_env
    y = voiced / np.abs(voiced).max() * syllables * words + 0.05 * fricatives
    y = y + 1e-3 * rng.standard_normal(len(t))  # background floor, like a real recording
    return torch.from_numpy((0.5 * y / np.abs(y).max()).astype(np.float32))


def add_noise(x: torch.Tensor, snr_db: float, seed: int = 1) -> torch.Tensor:
    """x plus zero-mean white Gaussian noise at exactly `snr_db` relative to x's power."""
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(seed))
    noise = noise - noise.mean()
    scale = (x.pow(2).mean() / noise.pow(2).mean() / 10 ** (snr_db / 10)).sqrt()
    return x + scale * noise


@pytest.fixture(scope="module")
def clean() -> torch.Tensor:
    return speech_like()


@pytest.fixture(scope="module")
def degraded(clean: torch.Tensor) -> dict[str, torch.Tensor]:
    delay = int(0.010 * SR)
    return {
        "resampled": AF.resample(AF.resample(clean, SR, 8000), 8000, SR),
        "noisy": add_noise(clean, 5.0),
        "delayed": torch.cat([torch.zeros(delay), clean[:-delay]]),
    }


@pytest.fixture(scope="module")
def scores(clean: torch.Tensor, degraded: dict[str, torch.Tensor]) -> dict[str, dict[str, float]]:
    out = {}
    for name, est in {"identical": clean.clone(), **degraded}.items():
        out[name] = {
            "mel": M.log_mel_distance(clean, est, SR),
            "msmel": M.multiscale_log_mel_distance(clean, est, SR),
            "stft": M.stft_distance(clean, est, SR).total,
            "si_sdr": M.si_sdr(clean, est),
            "pesq": M.pesq_wb(clean, est, SR),
            "stoi": M.stoi(clean, est, SR),
        }
    return out


# --------------------------------------------------------------------------- audio metrics


def test_identical_audio_is_perfect(scores: dict[str, dict[str, float]]) -> None:
    s = scores["identical"]
    assert s["mel"] == pytest.approx(0.0, abs=1e-7)
    assert s["msmel"] == pytest.approx(0.0, abs=1e-7)
    assert s["stft"] == pytest.approx(0.0, abs=1e-7)
    assert s["si_sdr"] > 80.0
    assert s["pesq"] == pytest.approx(4.64, abs=0.02)
    assert s["stoi"] == pytest.approx(1.0, abs=1e-4)


def test_resample_to_8khz_degrades(scores: dict[str, dict[str, float]]) -> None:
    s, ref = scores["resampled"], scores["identical"]
    assert 0.1 < s["mel"] < 1.5
    assert s["stft"] > 0.1
    assert ref["stoi"] - 0.05 < s["stoi"] < ref["stoi"]  # STOI bands stop near 4.3 kHz: drops only a little
    assert 2.5 < s["pesq"] < ref["pesq"] - 0.3
    assert 8.0 < s["si_sdr"] < 40.0


def test_white_noise_at_5db(scores: dict[str, dict[str, float]]) -> None:
    s = scores["noisy"]
    assert s["si_sdr"] == pytest.approx(5.0, abs=0.5)
    assert s["pesq"] < 2.0
    assert 0.5 < s["stoi"] < 0.97
    assert s["mel"] > scores["resampled"]["mel"]


def test_10ms_delay_breaks_si_sdr_not_spectra(scores: dict[str, dict[str, float]]) -> None:
    s = scores["delayed"]
    assert s["si_sdr"] < 0.0  # from ~100 dB: waveform-matching metrics are not shift-invariant
    assert s["mel"] < 0.25
    assert s["mel"] < scores["resampled"]["mel"] and s["mel"] < scores["noisy"]["mel"]
    assert s["pesq"] > 4.3  # PESQ aligns the signals in time first


def test_si_sdr_is_scale_and_offset_invariant(clean: torch.Tensor) -> None:
    noisy = add_noise(clean, 10.0)
    base = M.si_sdr(clean, noisy)
    assert M.si_sdr(clean, 0.3 * noisy + 0.01) == pytest.approx(base, abs=1e-6)
    assert M.si_sdr(clean, -clean) > 80.0  # the optimal scale may be negative: polarity does not matter
    assert math.isfinite(M.si_sdr(torch.zeros(100), torch.zeros(100)))


def test_batched_with_lengths_matches_per_item_mean(clean: torch.Tensor) -> None:
    short = clean[:SR]
    noisy_long, noisy_short = add_noise(clean, 5.0, seed=2), add_noise(short, 15.0, seed=3)
    ref = torch.zeros(2, 1, clean.numel())
    est = torch.zeros(2, 1, clean.numel())
    ref[0, 0], est[0, 0] = clean, noisy_long
    ref[1, 0, :SR], est[1, 0, :SR] = short, noisy_short
    est[1, 0, SR:] = 0.7  # padding garbage must be ignored
    lengths = torch.tensor([clean.numel(), SR])
    for fn in (M.log_mel_distance, M.multiscale_log_mel_distance):
        expected = (fn(clean, noisy_long, SR) + fn(short, noisy_short, SR)) / 2
        assert fn(ref, est, SR, lengths) == pytest.approx(expected, rel=1e-5)
    expected = (M.si_sdr(clean, noisy_long) + M.si_sdr(short, noisy_short)) / 2
    assert M.si_sdr(ref, est, lengths) == pytest.approx(expected, rel=1e-9)
    batched = M.stft_distance(ref, est, SR, lengths)
    single = [M.stft_distance(clean, noisy_long, SR), M.stft_distance(short, noisy_short, SR)]
    assert batched.log_magnitude == pytest.approx(np.mean([d.log_magnitude for d in single]), rel=1e-5)
    assert batched.total == pytest.approx(np.mean([d.total for d in single]), rel=1e-5)


def test_other_sample_rates_and_numpy_input(clean: torch.Tensor) -> None:
    x24 = AF.resample(clean, SR, 24000)
    assert M.log_mel_distance(x24.numpy(), x24.numpy(), 24000) == 0.0
    assert M.pesq_wb(x24, x24, 24000) == pytest.approx(4.64, abs=0.02)
    assert M.stoi(x24, x24, 24000) == pytest.approx(1.0, abs=1e-4)


def test_shape_and_length_validation(clean: torch.Tensor) -> None:
    with pytest.raises(ValueError, match="shapes differ"):
        M.si_sdr(clean, clean[:-1])
    with pytest.raises(ValueError, match="mono"):
        M.log_mel_distance(torch.zeros(1, 2, 100), torch.zeros(1, 2, 100), SR)
    with pytest.raises(ValueError, match="lengths"):
        M.si_sdr(clean[None], clean[None], torch.tensor([clean.numel() + 1]))


def test_pesq_and_stoi_errors_are_clear(clean: torch.Tensor) -> None:
    with pytest.raises(ValueError, match="silent"):
        M.pesq_wb(clean, torch.zeros_like(clean), SR)
    with pytest.raises(ValueError, match="at least"):
        M.pesq_wb(clean[: SR // 10], clean[: SR // 10], SR)
    with pytest.raises(ValueError, match="silent"):
        M.stoi(torch.zeros_like(clean), clean, SR)
    with pytest.raises(ValueError, match="STOI needs"):
        M.stoi(clean[: SR // 5], clean[: SR // 5], SR)


@pytest.mark.parametrize(("module", "fn"), [("pesq", M.pesq_wb), ("pystoi", M.stoi)])
def test_missing_eval_dependency_hint(monkeypatch: pytest.MonkeyPatch, clean: torch.Tensor, module, fn) -> None:
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(ImportError, match=r"pip install 'speechcodec\[eval\]'"):
        fn(clean, clean, SR)


# --------------------------------------------------------------------------- codebook statistics


def test_uniform_and_constant_codebooks() -> None:
    size, frames = 64, 64 * 50
    uniform = torch.arange(frames).remainder(size)
    codes = torch.stack([uniform, torch.full((frames,), 7)])[None]  # [1, 2, F]
    usage = M.codebook_usage(codes, None, size)
    assert usage.num_codebooks == 2 and usage.num_frames == frames
    assert usage.perplexity[0] == pytest.approx(size)
    assert usage.entropy_bits[0] == pytest.approx(math.log2(size))
    assert usage.used_fraction == pytest.approx((1.0, 1 / size))
    assert usage.perplexity[1] == pytest.approx(1.0)
    assert usage.entropy_bits[1] == pytest.approx(0.0, abs=1e-12)


def test_random_uniform_codes_have_near_full_perplexity() -> None:
    size = 256
    codes = torch.randint(0, size, (4, 3, 5000), generator=torch.Generator().manual_seed(0))
    usage = M.codebook_usage(codes, torch.full((4,), 5000), size)
    assert all(0.97 * size < p <= size for p in usage.perplexity)
    assert usage.used_fraction == pytest.approx((1.0, 1.0, 1.0))


def test_padding_is_excluded_and_list_input_agrees() -> None:
    size = 16
    gen = torch.Generator().manual_seed(0)
    items = [torch.randint(0, size, (2, n), generator=gen) for n in (30, 17)]
    padded = torch.full((2, 2, 30), 999)  # out-of-range padding would raise if counted
    padded[0], padded[1, :, :17] = items[0], items[1]
    from_batch = M.codebook_usage(padded, torch.tensor([30, 17]), size)
    assert from_batch == M.codebook_usage(items, None, size)
    assert from_batch.num_frames == 47
    summed = M.codebook_counts(items[:1], None, size) + M.codebook_counts(items[1:], None, size)
    assert M.usage_from_counts(summed) == from_batch
    with pytest.raises(ValueError, match="codes must lie"):
        M.codebook_usage(padded, None, size)


def test_empirical_bitrate() -> None:
    size, frames, frame_rate = 1024, 1024 * 4, 50.0
    uniform = torch.arange(frames).remainder(size)
    codes = torch.stack([uniform, uniform.flip(0), torch.zeros(frames, dtype=torch.long)])[None]
    bitrate = M.empirical_bitrate(codes, None, size, frame_rate)
    assert bitrate == pytest.approx(2 * 10 * frame_rate)
    assert M.codebook_usage(codes, None, size).bitrate(frame_rate) == bitrate


# --------------------------------------------------------------------------- phone metrics


def test_pnmi_and_purity_of_perfect_codes() -> None:
    gen = np.random.default_rng(0)
    phones = gen.integers(0, 40, size=5000)
    relabel = gen.permutation(1000)[:40] + 7  # bijective relabelling into a larger code space
    assert M.pnmi(relabel[phones], phones) == pytest.approx(1.0, abs=1e-9)
    assert M.phone_purity(phones, phones) == 1.0
    assert M.phone_purity(torch.from_numpy(relabel[phones]), torch.from_numpy(phones)) == 1.0
    # splitting each phone over several codes keeps purity and PNMI at 1
    split = phones * 3 + gen.integers(0, 3, size=phones.size)
    assert M.pnmi(split, phones) == pytest.approx(1.0, abs=1e-9)
    assert M.phone_purity(split, phones) == 1.0


def test_pnmi_of_random_codes_is_near_zero() -> None:
    gen = np.random.default_rng(1)
    phones = gen.integers(0, 40, size=100_000)
    codes = gen.integers(0, 100, size=phones.size)
    assert 0.0 <= M.pnmi(codes, phones) < 0.05
    assert M.phone_purity(codes, phones) < 0.1


def test_unlabelled_frames_are_excluded() -> None:
    phones = np.array([0, 0, 1, 1, -1, -1, 2])
    codes = np.array([5, 5, 6, 6, 5, 6, 9])  # unlabelled frames would break the mapping if counted
    assert M.pnmi(codes, phones) == pytest.approx(1.0)
    assert M.phone_purity(codes, phones) == 1.0
    with pytest.raises(ValueError, match="no labelled frames"):
        M.pnmi(codes, np.full(7, -1))
    with pytest.raises(ValueError, match="undefined"):
        M.pnmi(codes, np.zeros(7, dtype=np.int64))
    with pytest.raises(ValueError, match="lengths differ"):
        M.phone_purity(codes[:-1], phones)


def test_frame_phone_labels_uses_frame_centres() -> None:
    alignment = [(0.0, 0.1, "a"), (0.1, 0.25, "b"), (0.3, 0.4, "a"), (0.4, 0.44, "sil")]
    labels, mapping = M.frame_phone_labels(alignment, num_frames=25, frame_rate=50.0, ignore_labels=["sil"])
    assert mapping == {"a": 0, "b": 1}
    expected = [0] * 5 + [1] * 7 + [-1] * 3 + [0] * 5 + [-1] * 5
    assert labels.tolist() == expected and labels.dtype == torch.int64
    # an existing vocabulary is reused and extended, not modified in place
    vocab = {"b": 5}
    labels2, mapping2 = M.frame_phone_labels(alignment, 25, 50.0, label_to_id=vocab)
    assert vocab == {"b": 5} and mapping2 == {"b": 5, "a": 6, "sil": 7}
    assert labels2[:5].tolist() == [6] * 5 and labels2[20:22].tolist() == [7, 7]


def test_level_difference_db_reports_gain_and_sign():
    ref = 0.1 * torch.randn(2, 16000, generator=torch.Generator().manual_seed(0))
    assert abs(M.level_difference_db(ref, 0.5 * ref) + 6.0206) < 1e-3  # half amplitude: 6 dB quieter
    assert abs(M.level_difference_db(ref, 2.0 * ref) - 6.0206) < 1e-3
    assert abs(M.level_difference_db(ref, -ref)) < 1e-9  # polarity is not level
    padded = ref.clone()
    padded[1, 8000:] = 1.0  # loud garbage past the valid samples is not counted
    assert abs(M.level_difference_db(ref, padded, lengths=[16000, 8000])) < 1e-9
