"""`codec prep-teacher MANIFEST`: precompute teacher features beside each audio file."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

    Extract = Callable[[torch.Tensor, int], torch.Tensor]  # mono audio [T], sample rate -> features [F, D]

EPILOG = """\
Each audio file AUDIO gets AUDIO.<suffix>.safetensors holding `features` [frames, dim] (float16)
and `frame_rate` (a 1-element tensor). Any external model can teach the same way: write files
of that shape yourself and train with teacher.kind=precomputed teacher.suffix=<suffix> teacher.dim=<dim>.

--whisper-encoder DIR stores Whisper encoder states (50 Hz, d_model wide: 512 for base, 1280 for
large-v3) instead; DIR is a CTranslate2 Whisper model directory as published for faster-whisper
(e.g. Systran/faster-whisper-base: model.bin, config.json, ...). Needs pip install 'speechcodec[asr]'.
Audio is cut into Whisper's 30 s windows; the last is zero-padded and the states trimmed to the audio.
"""


def add_parser(sub) -> None:
    """Register `prep-teacher`."""
    cmd = sub.add_parser(
        "prep-teacher",
        help="precompute semantic-teacher features for a manifest",
        description="Run a torchaudio speech model (or a Whisper encoder) over every file "
        "of a manifest and store one layer's features beside the audio.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cmd.add_argument("manifest", help="JSONL/CSV manifest with a `path` column")
    which = cmd.add_mutually_exclusive_group()
    which.add_argument("--model", help="torchaudio.models builder or pipeline name (default: hubert_base)")
    which.add_argument(
        "--whisper-encoder",
        metavar="DIR",
        default="",
        help="CTranslate2 (faster-whisper) Whisper model directory: store its encoder states",
    )
    cmd.add_argument("--layer", type=int, default=9, help="transformer layer whose output is stored (--model)")
    cmd.add_argument("--weights", default="", help="local weights file for a builder name (--model)")
    cmd.add_argument("--random-init", action="store_true", help="random weights (--model; smoke tests only)")
    cmd.add_argument("--suffix", default="teacher", help="feature file suffix (default: teacher)")
    cmd.add_argument("--device", default="cpu", help="torch device (cpu or cuda[:N] for --whisper-encoder)")
    cmd.add_argument("--force", action="store_true", help="recompute existing feature files")


def run(args: argparse.Namespace) -> int:
    """Write feature files; unreadable audio is reported and skipped (exit 1 if any)."""
    if args.whisper_encoder:
        extract, frame_rate, metadata = whisper_extractor(args)
    else:
        extract, frame_rate, metadata = torchaudio_extractor(args)
    written, dim, failed = write_features(args, extract, frame_rate, metadata)
    width = f" ({dim}-d, {frame_rate} Hz)" if written else ""
    print(f"{written} teacher feature files{width} written beside the audio; {failed} failed", file=sys.stderr)
    return 1 if failed else 0


def torchaudio_extractor(args: argparse.Namespace) -> tuple[Extract, float, dict[str, str]]:
    """A torchaudio teacher as (extract, frame rate, file metadata)."""
    from codec.models.teachers import TeacherConfig

    model = args.model or "hubert_base"  # no argparse default: it would hide a clash with --whisper-encoder
    cfg = TeacherConfig(
        kind="torchaudio", model=model, layer=args.layer, weights=args.weights, random_init=args.random_init
    )
    return feature_extractor(cfg, args.device, {"model": model, "layer": str(args.layer)})


def whisper_extractor(args: argparse.Namespace) -> tuple[Extract, float, dict[str, str]]:
    """A CTranslate2 Whisper encoder as (extract, frame rate, file metadata)."""
    from codec.models.teachers import TeacherConfig

    cfg = TeacherConfig(kind="whisper", model_dir=args.whisper_encoder)
    name = Path(args.whisper_encoder).resolve().name
    return feature_extractor(cfg, args.device, {"model": f"whisper-encoder:{name}"})


def feature_extractor(cfg: object, device: str, metadata: dict[str, str]) -> tuple[Extract, float, dict[str, str]]:
    """Any registered feature teacher (codec.models.teachers) as (extract, frame rate, file metadata)."""
    from codec.models.teachers import build_feature_model, extract_features

    model = build_feature_model(cfg, device)
    return (lambda wav, rate: extract_features(model, wav, rate, device)), float(model.frame_rate), metadata


def write_features(
    args: argparse.Namespace, extract: Extract, frame_rate: float, metadata: dict[str, str]
) -> tuple[int, int, int]:
    """Run `extract` over the manifest, skipping existing files unless --force; (written, width, failed)."""
    import torch
    from safetensors.torch import save as save_bytes
    from tqdm import tqdm

    from codec.data.dataset import teacher_feature_path
    from codec.data.manifest import read_utterances
    from codec.io.audio import load_audio, to_mono
    from codec.io.files import atomic_write_bytes

    written = dim = failed = 0
    for utt in tqdm(read_utterances(args.manifest), unit="file", desc="prep-teacher", file=sys.stderr):
        target = teacher_feature_path(utt.path, args.suffix)
        if target.exists() and not args.force:
            continue
        try:
            wav, rate = load_audio(utt.path)
        except (OSError, ValueError) as err:
            failed += 1
            tqdm.write(f"error: {err}", file=sys.stderr)
            continue
        features = extract(to_mono(wav).reshape(-1), rate)
        dim = features.shape[-1]
        payload = {"features": features.to("cpu", torch.float16).contiguous(), "frame_rate": torch.tensor([frame_rate])}
        atomic_write_bytes(target, save_bytes(payload, metadata=metadata))
        written += 1
    return written, dim, failed
