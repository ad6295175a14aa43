"""`codec export CHECKPOINT OUT_DIR`: a release directory from a training checkpoint;
`codec export MODEL --onnx DIR [--int8]`: ONNX graphs of a model (codec.onnx.export)."""

from __future__ import annotations

import argparse
import sys

EPILOG = """\
examples:
  codec export runs/speech16k/checkpoints/step_100000 release/ --name my-codec
  codec export speechcodec-16k-50hz --onnx onnx/ --int8
  codec export runs/speech16k release/ --onnx release/onnx   (release, then its ONNX graphs)
"""


def add_parser(sub) -> None:
    """Register `export`."""
    cmd = sub.add_parser(
        "export",
        help="make a release directory from a training checkpoint, or ONNX graphs",
        description="Copy a checkpoint's generator (weight norm folded), discriminator "
        "and heads into a release directory: config.json, model.safetensors, "
        "discriminator.safetensors (for fine-tuning), README.md. With --onnx, "
        "write the encode (audio -> codes) and decode (codes -> audio) graphs, "
        "and for causal models the streaming step graphs (state in, state out), "
        "checked against torch (docs/api.md, ONNX section).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cmd.add_argument(
        "checkpoint",
        help="checkpoint directory (runs/NAME/checkpoints/step_N) or a run directory; "
        "with --onnx alone also a release directory or registered name",
    )
    cmd.add_argument("out_dir", nargs="?", default=None, help="release directory to write (optional with --onnx)")
    cmd.add_argument("--name", default=None, help="model name recorded in config.json")
    cmd.add_argument("--force", action="store_true", help="overwrite an existing release / ONNX directory")
    cmd.add_argument("--half", action="store_true", help="store parameters as float16 (half the size)")
    cmd.add_argument(
        "--onnx",
        metavar="DIR",
        default=None,
        help="write ONNX graphs (encoder.onnx, decoder.onnx, onnx.json) to DIR (needs pip install 'speechcodec[onnx]')",
    )
    cmd.add_argument("--int8", action="store_true", help="with --onnx: also dynamic-int8 graphs (faster, lossy)")
    cmd.add_argument(
        "--chunk-frames",
        type=int,
        default=None,
        metavar="N",
        help="with --onnx, causal models: frames per streaming step (default 4)",
    )


def run(args: argparse.Namespace) -> int:
    """Export and print the written files with their sha256."""
    if args.out_dir is None and args.onnx is None:
        raise ValueError("give OUT_DIR (a release directory) and/or --onnx DIR")
    if (args.int8 or args.chunk_frames is not None) and args.onnx is None:
        raise ValueError("--int8 and --chunk-frames go with --onnx DIR")
    source = args.checkpoint
    if args.out_dir is not None:
        from codec.hub.release import export_release

        for path, digest in export_release(
            source, args.out_dir, name=args.name, force=args.force, half=args.half
        ).items():
            print(f"{digest}  {path}")
        source = args.out_dir
    if args.onnx is not None:
        from pathlib import Path

        from codec.models.codec import Codec
        from codec.onnx.export import CHUNK_FRAMES, export_onnx

        chunk_frames = CHUNK_FRAMES if args.chunk_frames is None else args.chunk_frames
        manifest = export_onnx(
            Codec.from_pretrained(source), args.onnx, int8=args.int8, force=args.force, chunk_frames=chunk_frames
        )
        for name, digest in manifest["files"].items():
            print(f"{digest}  {Path(args.onnx) / name}")
        for precision, result in manifest.get("check", {}).items():
            print(
                f"check ({precision}): codes equal on {100 * result['frames_equal']:.2f} % of "
                f"{result['frames']} frames, audio max-abs error {result['audio_max_abs']:.2e}",
                file=sys.stderr,
            )
        streaming = manifest["streaming"]
        if streaming is None:
            print("note: no streaming step graphs: the model is not causal", file=sys.stderr)
        else:
            print(
                f"streaming steps: {streaming['chunk_frames']} frames ({streaming['chunk_samples']} samples) "
                f"per step, decoder lookahead {streaming['lookahead']} samples",
                file=sys.stderr,
            )
    return 0
