"""`codec prep-teacher MANIFEST`: precompute teacher features beside each audio file."""

from __future__ import annotations

import argparse
import sys

EPILOG = """\
Each audio file AUDIO gets AUDIO.<suffix>.safetensors holding `features` [frames, dim] (float16)
and `frame_rate` (a 1-element tensor). Any external model can teach the same way: write files
of that shape yourself and train with teacher.kind=precomputed teacher.suffix=<suffix> teacher.dim=<dim>.
"""


def add_parser(sub) -> None:
    """Register `prep-teacher`."""
    cmd = sub.add_parser("prep-teacher", help="precompute semantic-teacher features for a manifest",
                         description="Run a torchaudio speech model over every file of a manifest and store "
                                     "one layer's features beside the audio.", epilog=EPILOG,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    cmd.add_argument("manifest", help="JSONL/CSV manifest with a `path` column")
    cmd.add_argument("--model", default="hubert_base", help="torchaudio.models builder or pipeline name")
    cmd.add_argument("--layer", type=int, default=9, help="transformer layer whose output is stored")
    cmd.add_argument("--weights", default="", help="local weights file for a builder name")
    cmd.add_argument("--random-init", action="store_true", help="random weights (smoke tests only)")
    cmd.add_argument("--suffix", default="teacher", help="feature file suffix (default: teacher)")
    cmd.add_argument("--device", default="cpu", help="torch device")
    cmd.add_argument("--force", action="store_true", help="recompute existing feature files")


def run(args: argparse.Namespace) -> int:
    """Write feature files; unreadable audio is reported and skipped (exit 1 if any)."""
    import torch
    from safetensors.torch import save as save_bytes
    from tqdm import tqdm

    from codec.audio import load_audio, to_mono
    from codec.data.dataset import teacher_feature_path
    from codec.data.manifest import read_utterances
    from codec.fileio import atomic_write_bytes
    from codec.models.teachers import TeacherConfig, TorchaudioTeacher

    cfg = TeacherConfig(kind="torchaudio", model=args.model, layer=args.layer, weights=args.weights,
                        random_init=args.random_init)
    teacher = TorchaudioTeacher(cfg).to(args.device)
    failed = 0
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
        wav = to_mono(wav)[None].to(args.device)
        features = teacher(wav, torch.tensor([wav.shape[-1]], device=args.device), rate)[0]
        payload = {"features": features.to("cpu", torch.float16).contiguous(),
                   "frame_rate": torch.tensor([teacher.frame_rate])}
        atomic_write_bytes(target, save_bytes(payload, metadata={"model": args.model, "layer": str(args.layer)}))
    print(f"teacher features ({teacher.dim}-d, {teacher.frame_rate} Hz) written beside the audio; {failed} failed",
          file=sys.stderr)
    return 1 if failed else 0
