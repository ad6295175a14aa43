"""`codec` command line: tokenize, detokenize, info (and more as the package grows)."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

# Commands that live in their own module: each has add_parser(subparsers) and run(args) -> int.
COMMAND_MODULES = ("train", "export", "prep", "prep_teacher", "download", "eval", "bench")

EPILOG_TOKENIZE = """\
inputs may be audio files, directories (searched recursively), quoted globs ('data/**/*.flac')
and manifests (.txt: one path a line; .jsonl/.csv: a `path` column, optional `id`).
Each input becomes OUT_DIR/<relative path>.safetensors (a directory input keeps its tree).
Failures are printed and listed in OUT_DIR/errors.jsonl; the others go on; exit status 1 if any failed.
example: codec tokenize corpus/ -o tokens/ --model ./my-codec --num-codebooks 4
"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="codec", description="Speech tokenizer: audio <-> discrete tokens.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    tok = sub.add_parser("tokenize", help="audio files -> tokens files", description="Turn audio into tokens.",
                         epilog=EPILOG_TOKENIZE, formatter_class=argparse.RawDescriptionHelpFormatter)
    tok.add_argument("inputs", nargs="+", metavar="INPUT", help="audio file, directory, glob or manifest")
    tok.add_argument("-o", "--out-dir", required=True, type=Path, help="where tokens files are written")
    tok.add_argument("--model", required=True, help="checkpoint directory, registered name, hf://org/repo@rev or URL")
    tok.add_argument("--num-codebooks", type=int, default=None, help="keep the first K codebooks (lower bitrate)")
    _add_job_options(tok)

    det = sub.add_parser("detokenize", help="tokens files -> audio files",
                         description="Turn tokens files back into audio (exact original length).")
    det.add_argument("inputs", nargs="+", metavar="TOKENS", help="tokens file, directory, glob or manifest")
    det.add_argument("-o", "--out-dir", required=True, type=Path, help="where audio files are written")
    det.add_argument("--model", default=None,
                     help="checkpoint (directory, registered name, hf:// or URL) the tokens came from "
                          "(default: the registered model named in the tokens' model id)")
    det.add_argument("--format", default="wav", choices=["wav", "flac", "ogg"], help="output audio format")
    _add_job_options(det)

    info = sub.add_parser("info", help="describe a model", description="Print rates, codebooks, bitrate and sizes.")
    info.add_argument("model", help="checkpoint directory, registered name, hf://org/repo@rev or URL")
    info.add_argument("--json", action="store_true", help="print JSON instead of a table")
    for name in COMMAND_MODULES:
        importlib.import_module(f"codec.commands.{name}").add_parser(sub)
    return parser


def _add_job_options(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("--batch-size", type=int, default=8, help="files per model call (default 8)")
    cmd.add_argument("--device", default="cpu", help="torch device, e.g. cpu, cuda, cuda:1 (default cpu)")
    cmd.add_argument("--backend", default="auto", choices=["auto", "torch", "onnx", "onnx-int8"],
                     help="auto (default): onnxruntime where installed and on the CPU, else torch; "
                          "onnx-int8 is faster and lossy (docs/benchmarks.md)")
    cmd.add_argument("--force", action="store_true", help="overwrite existing outputs")
    cmd.add_argument("--skip-existing", action="store_true", help="leave existing outputs and do the rest")
    cmd.add_argument("--quiet", action="store_true", help="no progress bar or summary line (errors are still printed)")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `codec` console script."""
    args = build_parser().parse_args(argv)
    builtin = {"tokenize": _tokenize, "detokenize": _detokenize, "info": _info}
    try:
        _check_device_argument(args)
        if args.command in builtin:
            return builtin[args.command](args)
        return importlib.import_module(f"codec.commands.{args.command.replace('-', '_')}").run(args)
    except (FileNotFoundError, FileExistsError, ValueError, ConnectionError, ImportError) as err:
        print(f"codec {args.command}: error: {err}", file=sys.stderr)
        return 2


def _check_device_argument(args: argparse.Namespace) -> None:
    """A missing GPU or a malformed --device is a one-line error before anything loads."""
    import os

    from codec.devices import check_device

    device = getattr(args, "device", None)
    if isinstance(device, str):
        check_device(f"cuda:{os.environ.get('LOCAL_RANK', '0')}" if device == "cuda-local" else device)


def _run_job(args: argparse.Namespace, suffix: str, extensions: tuple[str, ...], work) -> int:
    """Collect inputs, plan outputs, run `work(model, planned, report)` per model, write errors.jsonl."""
    from codec.batch import JobReport, plan_outputs, write_errors
    from codec.inputs import collect_inputs
    from codec.onnx.select import load_backend

    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {args.batch_size}")
    collected = collect_inputs(args.inputs, extensions)
    report = JobReport()
    for spec, reason in collected.errors:
        report.failed.append((spec, reason))
        print(f"error: {spec}: {reason}", file=sys.stderr)
    planned = plan_outputs(collected.items, args.out_dir, suffix, args.force, args.skip_existing, report)
    groups = [(args.model, planned)] if args.model else _group_by_named_model(planned, report)
    for source, group in groups:
        work(load_backend(source, device=args.device, backend=args.backend), group, report)
    errors = write_errors(args.out_dir, report)
    if not args.quiet:
        print(f"{len(report.written)} written, {len(report.failed)} failed"
              + (f" (see {errors})" if report.failed else "") + f", {report.audio_seconds / 3600:.3f} h of audio",
              file=sys.stderr)
    return 1 if report.failed else 0


def _group_by_named_model(planned: list, report) -> list[tuple[Path, list]]:
    """Tokens files grouped by the registered model their id names (NAME@sha256-prefix); the rest fail, one by one."""
    from codec.batch import _fail, _one_line
    from codec.hub import resolve
    from codec.tokens import Tokens

    sources: dict[str, Path | Exception] = {}
    groups: dict[Path, list] = {}
    for item, out in planned:
        try:
            model_id = Tokens.load(item.path).model_id
        except (OSError, ValueError) as err:
            _fail(report, item.path, _one_line(err))
            continue
        name = model_id.split("@")[0]
        if not name:
            _fail(report, item.path, "the tokens name no model; pass --model")
            continue
        if name not in sources:
            try:
                sources[name] = resolve(name)
            except (FileNotFoundError, ValueError) as err:
                sources[name] = err
        source = sources[name]
        if isinstance(source, Exception):
            _fail(report, item.path, f"made by model {model_id!r}, which is not a registered name; pass --model")
        else:
            groups.setdefault(source, []).append((item, out))
    return list(groups.items())


def _tokenize(args: argparse.Namespace) -> int:
    from codec.audio import AUDIO_EXTENSIONS
    from codec.batch import TOKENS_SUFFIX, tokenize_files

    return _run_job(args, TOKENS_SUFFIX, AUDIO_EXTENSIONS, lambda model, planned, report: tokenize_files(
        model, planned, report, num_codebooks=args.num_codebooks, batch_size=args.batch_size,
        exclusive=not args.force, quiet=args.quiet))


def _detokenize(args: argparse.Namespace) -> int:
    from codec.batch import TOKENS_SUFFIX, detokenize_files

    return _run_job(args, f".{args.format}", (TOKENS_SUFFIX,), lambda model, planned, report: detokenize_files(
        model, planned, report, batch_size=args.batch_size, exclusive=not args.force, quiet=args.quiet))


def _info(args: argparse.Namespace) -> int:
    from codec.models.codec import Codec
    from codec.models.facts import model_facts

    model = Codec.from_pretrained(args.model)
    facts = model_facts(model)
    if args.json:
        print(json.dumps(facts, indent=2))
    else:
        width = max(len(k) for k in facts)
        for key, value in facts.items():
            print(f"{key:<{width}}  {value}")
    return 0


def _version() -> str:
    from codec import __version__

    return __version__


if __name__ == "__main__":
    sys.exit(main())
