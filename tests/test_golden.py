"""Golden test: the shipped model's codes and decoded audio for a fixed input never drift.

The fixture holds the input (a closed-form harmonic signal, two items of different length so padding
and masks are pinned too), the codes `tokenize` gave and the audio `detokenize` gave when it was
written. Regenerate only on purpose (a deliberate model change): CODEC_WRITE_GOLDEN=1 pytest tests/test_golden.py
"""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

import codec

FIXTURE = Path(__file__).parent / "fixtures" / "golden_speechcodec-16k-50hz.safetensors"
SHIPPED = "speechcodec-16k-50hz"
LENGTHS = (8000, 4960)  # 0.5 s and 0.31 s at 16 kHz (the second is not a whole number of frames)


def golden_input() -> tuple[torch.Tensor, torch.Tensor]:
    """Audio [2, 1, 8000] at 16 kHz (a gliding harmonic tone with a syllable-rate envelope) and lengths [2]."""
    t = torch.arange(LENGTHS[0], dtype=torch.float64) / 16000
    items = []
    for b, f0 in enumerate((120.0, 210.0)):
        pitch = f0 * (1 + 0.15 * torch.sin(2 * math.pi * 1.3 * t))
        phase = 2 * math.pi * torch.cumsum(pitch, 0) / 16000
        wav = sum(torch.sin(k * phase + b) / k for k in range(1, 9))
        envelope = 0.55 + 0.45 * torch.sin(2 * math.pi * 3.5 * t)
        items.append(0.25 * wav * envelope)
    audio = torch.stack(items).float()[:, None]
    audio[1, :, LENGTHS[1] :] = 0
    return audio, torch.tensor(LENGTHS)


def compute(model) -> dict[str, torch.Tensor]:
    audio, lengths = golden_input()
    tokens = model.tokenize(audio, 16000, lengths=lengths)
    decoded = model.detokenize(tokens)
    return {
        "audio": audio,
        "lengths": lengths,
        "codes": tokens.codes,
        "frame_lengths": tokens.lengths,
        "decoded": decoded,
    }


def test_shipped_model_codes_and_audio_are_pinned():
    model = codec.load(SHIPPED)
    if os.environ.get("CODEC_WRITE_GOLDEN") == "1":
        FIXTURE.parent.mkdir(exist_ok=True)
        save_file({k: v.contiguous() for k, v in compute(model).items()}, str(FIXTURE))
    golden = load_file(str(FIXTURE))
    audio, lengths = golden_input()
    assert torch.equal(golden["audio"], audio) and torch.equal(golden["lengths"], lengths)
    tokens = model.tokenize(audio, 16000, lengths=lengths)
    assert tokens.codes.shape == (2, 8, 25) and tokens.lengths.tolist() == [25, 16]
    assert torch.equal(tokens.codes, golden["codes"]), "codes drifted from the golden fixture"
    assert torch.equal(tokens.lengths, golden["frame_lengths"])
    # Decode the stored codes, so an audio drift is reported apart from a code drift.
    decoded = model.detokenize(dataclasses.replace(tokens, codes=golden["codes"]))
    assert decoded.shape == golden["decoded"].shape == (2, 1, 8000)
    torch.testing.assert_close(decoded, golden["decoded"], rtol=0, atol=1e-5)
    assert decoded[1, 0, LENGTHS[1] :].abs().max() == 0 and decoded[0].abs().max() > 0.01
