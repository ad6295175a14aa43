"""ONNX (float32 and int8) against torch on real or held-out speech: frames with equal codes, audio error.

    .venv/bin/python benchmarks/onnx_agreement.py DATA... [--model speechcodec-16k-50hz] [--max-files N]

DATA: audio files, directories, globs or manifests (as `codec eval`). Each file is tokenized by both
backends; a frame agrees when all K codes are equal. Audio error: the torch codes decoded by both
decoders, max-abs difference. Prints one Markdown row per backend.
"""

from __future__ import annotations

import argparse
import tempfile

import torch

from codec.eval.protocol import load_eval_items
from codec.io.audio import prepare_batch
from codec.models.codec import Codec
from codec.onnx.backend import OnnxCodec
from codec.onnx.export import compare_with_torch, export_onnx


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", nargs="+")
    parser.add_argument("--model", default="speechcodec-16k-50hz")
    parser.add_argument("--max-files", type=int, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    items, errors = load_eval_items(args.data, args.max_files)
    for line in errors:
        print(f"error: {line}")
    model = Codec.from_pretrained(args.model)
    print(f"{len(items)} files, {args.model}")
    print(
        "| backend | frames | frames with all codes equal to torch | semantic (codebook 0) equal | "
        "decoded audio max-abs vs torch |"
    )
    print("| --- | ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as tmp:
        export_onnx(model, tmp, int8=True)
        for int8 in (False, True):
            _report(model, tmp, int8, items)


def _report(model: Codec, directory: str, int8: bool, items: list) -> None:
    """One table row: agreement of the float32 or int8 graphs with torch over all items."""
    runtime = OnnxCodec(directory, int8=int8)
    frames = equal = semantic = 0
    error = 0.0
    for item in items:
        audio, lengths = prepare_batch([item.path], None, model.sample_rate)
        result = compare_with_torch(model, directory, int8=int8, audio=audio, lengths=lengths)
        ref = model.tokenize(audio, model.sample_rate, lengths=lengths)
        got = runtime.tokenize(audio, model.sample_rate, lengths=lengths)
        frames += result.frames
        equal += round(result.frames_equal * result.frames)
        semantic += int((got.codes[:, 0] == ref.codes[:, 0]).sum())
        error = max(error, result.audio_max_abs)
    print(
        f"| {runtime.backend} | {frames} | {100 * equal / frames:.2f} % | {100 * semantic / frames:.2f} % "
        f"| {error:.1e} |"
    )


if __name__ == "__main__":
    main()
