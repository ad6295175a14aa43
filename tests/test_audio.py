"""Audio I/O and validation: every bad file gets a one-line error naming it."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from codec.io.audio import AudioError, load_audio, prepare_batch, save_audio
from tests.conftest import speechlike


@pytest.mark.parametrize("ext,fmt", [("wav", "WAV"), ("flac", "FLAC"), ("ogg", "OGG"), ("mp3", "MP3")])
def test_formats_round_trip(tmp_path, ext, fmt):
    path = tmp_path / f"x.{ext}"
    save_audio(path, speechlike(0.5), 16000)
    wav, rate = load_audio(path)
    assert rate == 16000 and wav.shape[0] == 1 and abs(wav.shape[1] - 8000) <= 1200


def test_silence_and_clipping_are_valid(tmp_path):
    sf.write(tmp_path / "silence.wav", np.zeros(1600, np.float32), 16000)
    sf.write(tmp_path / "clipped.wav", np.ones(1600, np.float32), 16000)
    assert load_audio(tmp_path / "silence.wav")[0].abs().max() == 0
    assert load_audio(tmp_path / "clipped.wav")[0].shape == (1, 1600)


def test_bad_files_name_the_file(tmp_path):
    (tmp_path / "corrupt.wav").write_bytes(b"RIFF1234WAVEjunk")
    (tmp_path / "text.flac").write_text("hello")
    sf.write(tmp_path / "empty.wav", np.zeros(0, np.float32), 16000)
    sf.write(tmp_path / "nan.wav", np.full(100, np.nan, np.float32), 16000, subtype="FLOAT")
    sf.write(tmp_path / "six.wav", np.zeros((100, 6), np.float32), 16000)
    cases = {
        "corrupt.wav": "unreadable",
        "text.flac": "unreadable",
        "empty.wav": "zero-length",
        "nan.wav": "NaN",
        "six.wav": "6 channels",
    }
    for name, problem in cases.items():
        with pytest.raises(AudioError) as info:
            load_audio(tmp_path / name)
        message = str(info.value)
        assert message.startswith(str(tmp_path / name)) and problem in message and "\n" not in message
    with pytest.raises(FileNotFoundError, match=r"missing\.wav"):
        load_audio(tmp_path / "missing.wav")


def test_prepare_batch_inputs():
    wav, lengths = prepare_batch([speechlike(0.1), np.zeros((2, 800), np.float32)], 16000, 16000)
    assert wav.shape == (2, 1, 1600) and lengths.tolist() == [1600, 800]
    wav, lengths = prepare_batch(torch.zeros(3, 2, 441), 44100, 16000)
    assert wav.shape == (3, 1, 160) and lengths.tolist() == [160] * 3
    with pytest.raises(ValueError, match="sample_rate is required"):
        prepare_batch(torch.zeros(10), None, 16000)
    with pytest.raises(ValueError, match=r"\[T\], \[C, T\] or \[B, C, T\]"):
        prepare_batch(torch.zeros(1, 1, 1, 10), 16000, 16000)
    with pytest.raises(AudioError, match="item 0: contains NaN"):
        prepare_batch(torch.full((10,), float("nan")), 16000, 16000)
    with pytest.raises(AudioError, match="below"):
        prepare_batch(torch.zeros(10), 100, 16000)
