"""Release directories: what `codec export` writes and the registry serves."""

from __future__ import annotations

import shutil
from pathlib import Path

import torch

from codec.io.files import atomic_write_bytes
from codec.io.weights import fold_weight_norm, read_safetensors, sha256_file, write_safetensors
from codec.models.codec import Codec
from codec.models.facts import model_facts
from codec.train.checkpoint import latest_checkpoint


def export_release(
    checkpoint: str | Path, out_dir: str | Path, name: str | None = None, force: bool = False, half: bool = False
) -> dict[str, str]:
    """Write config.json, model.safetensors (weight norm folded), discriminator/aux weights and a model card.

    `half` stores parameters as float16 (half the size; they load back into float32 models).
    """
    source = Path(checkpoint)
    if (source / "checkpoints").is_dir():
        source = latest_checkpoint(source) or source
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()) and not force:
        raise FileExistsError(f"{out}: exists and is not empty; use --force")
    model = Codec.from_pretrained(source)
    if name:
        model.cfg.name = name
    fold_weight_norm(model)
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    dtype = torch.float16 if half else None
    model.save_pretrained(tmp, dtype=dtype)
    for extra in ("discriminator.safetensors", "aux.safetensors", "train_config.yaml"):
        if (source / extra).is_file():
            if extra.endswith(".safetensors"):
                tensors = read_safetensors(source / extra)
                write_safetensors(
                    tmp / extra, {k: v.to(dtype) if half and v.is_floating_point() else v for k, v in tensors.items()}
                )
            else:
                shutil.copy2(source / extra, tmp / extra)
    atomic_write_bytes(tmp / "README.md", model_card(model, source).encode())
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return {p.name: sha256_file(p) for p in sorted(out.iterdir()) if p.is_file()}


def model_card(model: Codec, source: Path) -> str:
    """A minimal model card with the model's facts; fill in evaluation results with `codec eval`."""
    facts = model_facts(model)
    rows = "\n".join(f"| {k} | {v} |" for k, v in facts.items())
    return (
        f"# {model.cfg.name}\n\nExported from `{source}` by `codec export`.\n\n"
        f"| property | value |\n| --- | --- |\n{rows}\n\n"
        "Load with `codec.load(PATH)`; fine-tune with `init_from: PATH` in a recipe "
        "(discriminator weights are included).\n"
    )
