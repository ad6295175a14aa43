"""`codec train RECIPE.yaml [key=value ...]`: run or resume a training recipe (torchrun-aware)."""

from __future__ import annotations

import argparse

EPILOG = """\
Overrides use dotted keys, e.g. `optim.lr=1e-4 data.batch_size=16 model.quantizer.num_codebooks=4`.
A run resumes from OUT_DIR/checkpoints/latest when it exists.
Many processes / GPUs: torchrun --nproc_per_node 4 -m codec train recipes/speech16k.yaml
(each rank reads its own random crops; gradients are averaged every step).
"""


def add_parser(sub) -> None:
    """Register `train`."""
    cmd = sub.add_parser(
        "train",
        help="train a codec from a YAML recipe",
        description="Train (or resume) a codec from a YAML recipe.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cmd.add_argument("recipe", help="recipe YAML (see recipes/)")
    cmd.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="dotted config overrides")


def run(args: argparse.Namespace) -> int:
    """Load the recipe and train."""
    from codec.train.config import load_train_config
    from codec.train.loop import train

    result = train(load_train_config(args.recipe, args.overrides))
    print(f"finished at step {result.step}; checkpoint: {result.checkpoint}")
    return 0
