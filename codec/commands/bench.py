"""`codec bench`: tokenize/detokenize speed (× real time) and peak memory, optionally against peers."""

from __future__ import annotations

import argparse
import sys

DEFAULT_MODEL = "speechcodec-16k-50hz"

EPILOG = """\
Speed is audio seconds / wall seconds (median of --repeats after a warm-up call, systems measured
round-robin); memory is the peak RSS growth during the warm-up call (Linux VmHWM). See docs/benchmarks.md.
Without --model or --config the shipped model (speechcodec-16k-50hz) is measured.
examples:
  codec bench --seconds 5 --threads 1
  codec bench --model ./my-codec --seconds 10 --threads 1,2 --batch 1,8
  codec bench --config default --threads 1,2 --batch 1,8 --peers
  codec bench --model speechcodec-16k-50hz --backends torch,onnx,onnx-int8 --peers
"""


def add_parser(sub) -> None:
    """Register `bench`."""
    cmd = sub.add_parser(
        "bench",
        help="measure tokenize/detokenize speed and memory",
        description="Benchmark tokenize and detokenize speed and peak memory on this machine.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = cmd.add_mutually_exclusive_group()
    source.add_argument(
        "--model",
        default=None,
        help=f"checkpoint directory (or registered name); default {DEFAULT_MODEL}, the shipped model",
    )
    source.add_argument(
        "--config",
        metavar="default|YAML",
        help="random weights: `default` (the default speech config) or a model config YAML; "
        "measured with both decoder kinds (vocoder, conv)",
    )
    cmd.add_argument("--seconds", type=float, default=10.0, help="audio seconds per item (default 10)")
    cmd.add_argument("--threads", type=_int_list, default=[1], metavar="N,N", help="torch threads (default 1)")
    cmd.add_argument("--batch", type=_int_list, default=[1], metavar="B,B", help="batch sizes (default 1)")
    cmd.add_argument("--repeats", type=int, default=3, help="timed repeats after the warm-up (default 3)")
    cmd.add_argument(
        "--backends",
        type=_backend_list,
        default=["torch"],
        metavar="B,B",
        help="with --model: backends measured as separate systems, of torch, onnx, onnx-int8 (default torch)",
    )
    cmd.add_argument(
        "--peers",
        action="store_true",
        help="also measure EnCodec, DAC, SpeechTokenizer, SNAC and Mimi (random weights) where installed",
    )
    cmd.add_argument("--json", action="store_true", help="print JSON rows instead of a Markdown table")
    cmd.add_argument("--no-progress", action="store_true", help="no progress bar")


def _int_list(text: str) -> list[int]:
    """`1,2` -> [1, 2] (positive integers)."""
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def _backend_list(text: str) -> list[str]:
    """`torch,onnx` -> ["torch", "onnx"] (known backends, no `auto`)."""
    values = [v.strip() for v in text.split(",") if v.strip()]
    known = ("torch", "onnx", "onnx-int8")
    if not values or any(v not in known for v in values):
        raise argparse.ArgumentTypeError(f"expected a comma-separated list of {', '.join(known)}, got {text!r}")
    return values


def _systems(args: argparse.Namespace) -> list:
    """The systems named by --model / --config (one per backend with --model)."""
    from codec.eval.bench import codec_system, default_config_systems

    if args.config is None:
        from codec.onnx.select import load_backend

        models = [(backend, load_backend(args.model or DEFAULT_MODEL, backend=backend)) for backend in args.backends]
        if len(models) == 1:
            return [codec_system(models[0][1])]
        name = models[0][1].model_id.split("@")[0]
        return [codec_system(model, f"{name} ({backend})") for backend, model in models]
    if args.backends != ["torch"]:
        raise ValueError("--backends goes with --model (a checkpoint to export)")
    if args.config == "default":
        return default_config_systems()
    from codec.config import CodecConfig, from_dict, load_yaml

    data = load_yaml(args.config)
    return default_config_systems(from_dict(CodecConfig, data.get("model", data)))


def run(args: argparse.Namespace) -> int:
    """Build the systems, measure, print the table (notes for skipped peers on stderr)."""
    import dataclasses
    import json

    from codec.eval.bench import peer_systems, results_table, run_bench

    if args.repeats < 1 or args.seconds <= 0:
        raise ValueError("--repeats must be >= 1 and --seconds > 0")
    systems = _systems(args)
    if args.peers:
        peers, notes = peer_systems()
        systems += peers
        for note in notes:
            print(f"note: {note}", file=sys.stderr)
    results = run_bench(systems, args.seconds, args.threads, args.batch, args.repeats, progress=not args.no_progress)
    if args.json:
        print(json.dumps([dataclasses.asdict(r) for r in results], indent=2))
    else:
        print(results_table(results))
    return 0
