"""`codec info MODEL`: rates, codebooks, bitrate and sizes of a checkpoint."""

from __future__ import annotations

import argparse
import json


def add_parser(sub) -> None:
    """Register `info`."""
    cmd = sub.add_parser("info", help="describe a model", description="Print rates, codebooks, bitrate and sizes.")
    cmd.add_argument("model", help="checkpoint directory, registered name, hf://org/repo@rev or URL")
    cmd.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    """Print the model's facts as an aligned table or JSON."""
    from codec.models.codec import Codec
    from codec.models.facts import model_facts

    facts = model_facts(Codec.from_pretrained(args.model))
    if args.json:
        print(json.dumps(facts, indent=2))
    else:
        width = max(len(k) for k in facts)
        for key, value in facts.items():
            print(f"{key:<{width}}  {value}")
    return 0
