"""DNSMOS and speaker similarity: the optional perceptual metrics of `codec eval`."""

from __future__ import annotations

import pytest
import torch

from codec import metrics
from tests.conftest import speechlike

pytest.importorskip("speechmos")
pytest.importorskip("resemblyzer")


def test_dnsmos_prefers_clean_speech_to_noise():
    clean = speechlike(3.0, seed=1)
    noisy = clean + 0.3 * torch.randn_like(clean, generator=torch.Generator().manual_seed(0))
    clean_mos, noisy_mos = metrics.dnsmos(clean, 16000), metrics.dnsmos(noisy.clamp(-1, 1), 16000)
    assert 1.0 <= noisy_mos < clean_mos <= 5.0


def test_dnsmos_resamples_and_refuses_silence():
    wav = speechlike(2.0, sample_rate=24000, seed=2)
    assert 1.0 <= metrics.dnsmos(wav, 24000) <= 5.0
    with pytest.raises(ValueError, match="silent"):
        metrics.dnsmos(torch.zeros(16000), 16000)


def test_speaker_similarity_is_higher_for_the_same_voice():
    a = speechlike(3.0, seed=3)
    same = a * 0.5 + 0.002 * torch.randn(a.shape, generator=torch.Generator().manual_seed(1))
    t = torch.arange(a.numel()) / 16000
    other = 0.3 * torch.sign(torch.sin(2 * torch.pi * 310 * t)) * (0.5 + 0.5 * torch.sin(2 * torch.pi * 3 * t))
    assert metrics.speaker_similarity(a, same, 16000) > 0.95
    assert metrics.speaker_similarity(a, other, 16000) < metrics.speaker_similarity(a, same, 16000)


def test_eval_reports_perceptual_scores_unless_skipped(tiny_model, tmp_path):
    import soundfile as sf

    from codec.eval.protocol import evaluate, load_eval_items

    path = tmp_path / "a.wav"
    sf.write(path, speechlike(2.0, seed=4).numpy(), 16000)
    items, _ = load_eval_items([str(path)])
    full = evaluate(tiny_model, items, progress=False)
    row = next(s for s in full.systems if s.role.endswith("full"))
    assert row.scores.dnsmos is not None
    # A random tiny model's output may hold too little voiced audio to embed: then a note says so.
    assert (row.scores.speaker_sim is not None and -1.0 <= row.scores.speaker_sim <= 1.0) or any(
        "resemblyzer refused" in note for note in full.notes
    )
    assert 1.0 <= full.original_dnsmos <= 5.0
    quick = evaluate(tiny_model, items, progress=False, perceptual=False)
    row = next(s for s in quick.systems if s.role.endswith("full"))
    assert row.scores.dnsmos is None and row.scores.speaker_sim is None and quick.original_dnsmos is None
    assert any("--no-perceptual" in note for note in quick.notes)
