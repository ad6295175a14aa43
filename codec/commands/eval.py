"""`codec eval --model M DATA...`: reconstruction quality per number of codebooks vs classic codecs."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

EPILOG = """\
DATA may be audio files, directories, quoted globs and manifests (.jsonl rows with `path` and
optional `id`, `text` (for WER) and `alignment` [[start_s, end_s, phone], ...] (for purity/PNMI)).
Coarse-only (k = semantic codebooks) and full (k = all codebooks) are always scored.
example: codec eval --model ./my-codec data/test.jsonl --report reports/test --num-codebooks 1,2,4,8
"""


def add_parser(sub) -> None:
    """Register `eval`."""
    cmd = sub.add_parser(
        "eval",
        help="score reconstructions against the originals (and classic codecs)",
        description="Tokenize, detokenize with k codebooks and score against the originals: "
        "log-mel, STFT, SI-SDR, PESQ-WB, STOI, bitrates, codebook usage, "
        "phone purity/PNMI, optional WER/CER. See docs/evaluation.md.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cmd.add_argument("data", nargs="+", metavar="DATA", help="audio file, directory, glob or manifest")
    cmd.add_argument("--model", required=True, help="checkpoint directory (or registered name)")
    cmd.add_argument(
        "--num-codebooks",
        type=_int_list,
        default=None,
        metavar="K,K,...",
        help="codebook counts to score (default 1,2,4,... up to K); coarse and full are always added",
    )
    cmd.add_argument(
        "--report",
        type=Path,
        default=Path("eval_report"),
        metavar="DIR",
        help="where report.json, report.md and the PNGs go (default ./eval_report)",
    )
    cmd.add_argument(
        "--baselines",
        default="opus,codec2",
        metavar="LIST",
        help="classic codecs to score: opus, codec2 (comma-separated) or none (default opus,codec2)",
    )
    cmd.add_argument(
        "--asr-model",
        type=Path,
        default=None,
        metavar="DIR",
        help="local faster-whisper (CTranslate2) model directory for WER/CER; nothing is downloaded",
    )
    cmd.add_argument("--max-files", type=int, default=None, metavar="N", help="evaluate only the first N files")
    cmd.add_argument("--device", default="cpu", help="torch device (default cpu)")
    cmd.add_argument(
        "--backend",
        default="torch",
        choices=["auto", "torch", "onnx", "onnx-int8"],
        help="inference backend (default torch, the reference; onnx-int8 to score int8's quality)",
    )
    cmd.add_argument("--no-progress", action="store_true", help="no progress bar")
    cmd.add_argument(
        "--no-perceptual",
        action="store_true",
        help="skip DNSMOS and speaker similarity (the slowest metrics; e.g. for quick A/B scoring)",
    )


def _int_list(text: str) -> list[int]:
    """`1,2,4` -> [1, 2, 4]."""
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def invocation() -> str:
    """The command line of this process as typed (`python -m codec` for the module form)."""
    program = Path(sys.argv[0]).name
    command = ["python", "-m", "codec"] if program == "__main__.py" else [program]
    return shlex.join(command) + " " + shlex.join(sys.argv[1:])


def run(args: argparse.Namespace) -> int:
    """Evaluate, write the report directory and print the systems table; 1 if some inputs failed (they are listed)."""
    from codec.eval.baselines import available_baselines, parse_baseline_names
    from codec.eval.protocol import evaluate, load_eval_items, load_transcriber
    from codec.eval.report import systems_table, write_report
    from codec.onnx.select import load_backend

    if args.max_files is not None and args.max_files < 1:
        raise ValueError(f"--max-files must be >= 1, got {args.max_files}")
    selection = available_baselines(parse_baseline_names(args.baselines))
    transcriber = None
    if args.asr_model is not None:
        try:
            transcriber = load_transcriber(args.asr_model)
        except ImportError as err:
            print(f"codec eval: error: {err}", file=sys.stderr)
            return 2
    items, errors = load_eval_items(args.data, args.max_files)
    for line in errors:
        print(f"error: {line}", file=sys.stderr)
    for note in selection.notes:
        print(f"note: {note}", file=sys.stderr)
    model = load_backend(args.model, device=args.device, backend=args.backend)
    report = evaluate(
        model,
        items,
        args.num_codebooks,
        selection.baselines,
        transcriber,
        progress=not args.no_progress,
        perceptual=not args.no_perceptual,
    )
    report.failed = [(line.partition(": ")[0], line.partition(": ")[2]) for line in errors] + report.failed
    if report.failed:
        report.notes.append(f"{len(report.failed)} input(s) failed and are not scored (see `failed` in report.json)")
    report.notes = list(selection.notes) + report.notes
    report.command = invocation()
    written = write_report(report, args.report)
    print(systems_table(report))
    print(f"wrote {', '.join(str(p) for p in written)}", file=sys.stderr)
    if report.failed:
        print(f"{len(report.failed)} input(s) failed (listed in report.json)", file=sys.stderr)
    return 1 if report.failed else 0
