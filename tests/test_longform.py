"""Long-form tokenize/detokenize: window-bounded memory, codes as one-shot, no audible seams."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf
import torch

from codec.io.audio import resample
from codec.metrics import log_mel_distance
from codec.runtime.longform import ResampledReader, detokenize_longform, frame_windows, tokenize_file_longform
from tests.conftest import make_model, speechlike

ROOT = Path(__file__).resolve().parents[1]


def _decode_to_tensor(model, tokens, **kwargs) -> torch.Tensor:
    blocks: list[torch.Tensor] = []
    written = detokenize_longform(model, tokens, blocks.append, **kwargs)
    audio = torch.cat(blocks)
    assert written == audio.numel() == int(tokens.audio_lengths[0])
    return audio


@pytest.fixture(scope="module")
def long_file(tmp_path_factory) -> tuple[Path, torch.Tensor]:
    wav = speechlike(90.37)
    path = tmp_path_factory.mktemp("long") / "long.wav"
    sf.write(str(path), wav.numpy(), 16000, subtype="FLOAT")
    return path, wav


def test_noncausal_windows_give_one_shot_codes_away_from_seams(long_file):
    path, wav = long_file
    model = make_model(causal=False)
    tokens = tokenize_file_longform(model, path, window_seconds=20, context_seconds=2)
    one_shot = model.tokenize(wav, 16000)
    assert tokens.codes.shape == one_shot.codes.shape
    assert torch.equal(tokens.lengths, one_shot.lengths) and torch.equal(tokens.audio_lengths, one_shot.audio_lengths)
    away = torch.ones(tokens.num_frames, dtype=torch.bool)
    for start, _ in list(frame_windows(tokens.num_frames, 1000))[1:]:
        away[start - 10 : start + 10] = False
    assert torch.equal(tokens.codes[..., away], one_shot.codes[..., away])
    assert (tokens.codes != one_shot.codes).float().mean() < 0.01


@pytest.mark.parametrize(
    "arch",
    [dict(encoder="frame", decoder="vocoder"), dict(encoder="conv", decoder="conv")],
    ids=["frame-vocoder", "conv-conv"],
)
def test_causal_long_form_streams_exactly(long_file, arch, tmp_path):
    _, wav = long_file
    model = make_model(causal=True, **arch)
    short = wav[: 16000 * 12 + 77]
    sf.write(str(tmp_path / "short.wav"), short.numpy(), 16000, subtype="FLOAT")
    tokens = tokenize_file_longform(model, tmp_path / "short.wav", window_seconds=5)
    one_shot = model.tokenize(short, 16000)
    assert torch.equal(tokens.codes, one_shot.codes)
    audio = _decode_to_tensor(model, tokens, window_seconds=3)
    torch.testing.assert_close(audio, model.detokenize(one_shot)[0, 0], atol=1e-5, rtol=0)


def test_noncausal_decode_matches_one_shot_and_writes_a_file(long_file, tmp_path):
    _, wav = long_file
    model = make_model(causal=False)
    tokens = model.tokenize(wav[: 16000 * 25], 16000)
    audio = _decode_to_tensor(model, tokens, window_seconds=6, context_seconds=1, crossfade_seconds=0.25)
    torch.testing.assert_close(audio, model.detokenize(tokens)[0, 0], atol=1e-5, rtol=0)
    out = tmp_path / "out.wav"
    assert model.detokenize_long(tokens, out, window_seconds=6, subtype="FLOAT") == tokens.audio_lengths[0]
    written, rate = sf.read(str(out), dtype="float32")
    assert rate == 16000 and torch.allclose(torch.from_numpy(written), audio, atol=1e-5)
    assert [p.name for p in tmp_path.iterdir()] == ["out.wav"], "no temp file left behind"


def test_seams_do_not_stand_out(long_file):
    """With too little context for the decoder's receptive field the crossfade hides the seams."""
    _, wav = long_file
    model = make_model(causal=False)
    tokens = model.tokenize(wav[: 16000 * 40], 16000)
    long_form = _decode_to_tensor(model, tokens, window_seconds=4, context_seconds=0.06, crossfade_seconds=0.06)
    one_shot = model.detokenize(tokens)[0, 0]
    original = wav[: 16000 * 40]
    seams = [start * 320 for start, _ in list(frame_windows(tokens.num_frames, 200))[1:]]
    near = torch.zeros(len(original), dtype=torch.bool)
    for s in seams:
        near[s - 2400 : s + 2400] = True

    def distance(est: torch.Tensor, mask: torch.Tensor) -> float:
        return log_mel_distance(original[mask], est[mask], 16000)

    at_seams, elsewhere = distance(long_form, near), distance(long_form, ~near)
    assert at_seams <= 1.1 * distance(one_shot, near)
    assert at_seams / elsewhere <= 1.1 * distance(one_shot, near) / distance(one_shot, ~near)
    assert not torch.equal(long_form, one_shot), "context this short must actually change the windows"
    hard_cut = _decode_to_tensor(model, tokens, window_seconds=4, context_seconds=0.06, crossfade_seconds=0)
    assert (long_form - one_shot).abs().max() < 0.75 * (hard_cut - one_shot).abs().max()


def test_blockwise_resampling_equals_whole_file(tmp_path):
    wav = speechlike(7.3, 22050)
    path = tmp_path / "stereo.wav"
    sf.write(str(path), torch.stack([wav, 0.5 * wav], 1).numpy(), 22050, subtype="FLOAT")
    whole = resample(((wav + 0.5 * wav) / 2)[None], 22050, 16000)[0]
    with ResampledReader(path, 16000) as reader:
        assert reader.num_samples == whole.numel()
        for start, stop in [(0, 1000), (5000, 9000), (12345, 54321), (100000, whole.numel())]:
            torch.testing.assert_close(reader.read(start, stop), whole[start:stop], atol=1e-6, rtol=0)
    model = make_model(causal=False)
    tokens = tokenize_file_longform(model, path, window_seconds=2, context_seconds=1)
    assert torch.equal(tokens.codes, model.tokenize(str(path)).codes)


def test_bad_arguments_raise(long_file):
    path, _ = long_file
    model = make_model(causal=False)
    tokens = model.tokenize(speechlike(2.0), 16000)
    with pytest.raises(ValueError, match="crossfade_seconds"):
        detokenize_longform(model, tokens, lambda block: None, window_seconds=1, context_seconds=0.1)
    with pytest.raises(ValueError, match="one item"):
        detokenize_longform(
            model,
            tokens.__class__(
                **{
                    **tokens.__dict__,
                    "codes": tokens.codes.repeat(2, 1, 1),
                    "lengths": tokens.lengths.repeat(2),
                    "audio_lengths": tokens.audio_lengths.repeat(2),
                }
            ),
            lambda block: None,
        )
    with pytest.raises(FileNotFoundError):
        tokenize_file_longform(model, path.parent / "missing.wav")


RSS_SCRIPT = """
import json, resource, sys
sys.path.insert(0, {root!r})
from tests.conftest import make_model
from codec.runtime.longform import tokenize_file_longform
model = make_model(causal={causal})
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
tokens = tokenize_file_longform(model, {path!r})
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps(dict(extra_kib=peak - base, frames=tokens.num_frames)))
"""


def _extra_rss_kib(path: Path, causal: bool) -> int:
    script = RSS_SCRIPT.format(root=str(ROOT), causal=causal, path=str(path))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])["extra_kib"]


@pytest.mark.slow
def test_memory_is_bounded_by_the_window(tmp_path):
    """Non-causal windows (the causal path streams the same blocks through smaller state)."""
    directory, causal = tmp_path, False
    minute = speechlike(60.0).numpy()
    files = {}
    for minutes in (1, 30):
        files[minutes] = directory / f"{minutes}min.wav"
        with sf.SoundFile(str(files[minutes]), "w", samplerate=16000, channels=1, subtype="PCM_16") as handle:
            for _ in range(minutes):
                handle.write(minute)
    one, thirty = _extra_rss_kib(files[1], causal), _extra_rss_kib(files[30], causal)
    assert thirty <= 2 * max(one, 1), f"peak RSS grew from {one} KiB (1 min) to {thirty} KiB (30 min)"
