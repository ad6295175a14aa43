"""Training checkpoints: `step_N/` directories written atomically, a `latest` pointer, keep-last-N.

A checkpoint holds the generator as a loadable model (config.json + model.safetensors), the
discriminator and auxiliary heads as safetensors, `trainer_state.pt` (optimizer/scheduler states,
RNG states, step; loadable with `torch.load(weights_only=True)`) and the resolved `train_config.yaml`.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
from pathlib import Path

import torch
import yaml

from codec.errors import one_line
from codec.io.files import atomic_write_bytes
from codec.io.weights import load_state_strict, read_safetensors, unfold_weight_norm_state, write_safetensors

LATEST = "latest"
log = logging.getLogger("codec.train")


def save_checkpoint(
    run_dir: Path, step: int, generator, discriminator, aux, trainer_state: dict, config: dict, keep_last: int
) -> Path:
    """Write `run_dir/checkpoints/step_<step>/` via a temp dir + rename, update `latest`, prune old ones."""
    root = Path(run_dir) / "checkpoints"
    final = root / f"step_{step:08d}"
    tmp = root / f".tmp_step_{step:08d}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    generator.save_pretrained(tmp)
    write_safetensors(tmp / "discriminator.safetensors", discriminator.state_dict())
    write_safetensors(tmp / "aux.safetensors", aux.state_dict()) if len(aux.state_dict()) else None
    buffer = io.BytesIO()
    torch.save(trainer_state, buffer)
    atomic_write_bytes(tmp / "trainer_state.pt", buffer.getvalue())
    atomic_write_bytes(tmp / "train_config.yaml", yaml.safe_dump(config, sort_keys=False).encode())
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    atomic_write_bytes(root / LATEST, (final.name + "\n").encode())
    _prune(root, keep_last)
    return final


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The checkpoint `latest` points to, or None."""
    pointer = Path(run_dir) / "checkpoints" / LATEST
    if not pointer.is_file():
        return None
    path = pointer.parent / pointer.read_text().strip()
    if not path.is_dir():
        raise FileNotFoundError(f"{pointer}: points to missing checkpoint {path}")
    return path


def load_trainer_state(path: Path) -> dict:
    """trainer_state.pt with `weights_only=True` (no code from the file can run)."""
    try:
        return torch.load(Path(path) / "trainer_state.pt", map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(f"{path / 'trainer_state.pt'}: cannot load safely ({one_line(err)})") from None


def load_modules(path: Path, generator, discriminator=None, aux=None, fresh: tuple[str, ...] = ()) -> None:
    """Load weights of a checkpoint (or release directory) into the given modules.

    Generator parameters under the `fresh` name prefixes keep their initial values (the checkpoint
    need not have them); every other parameter must match the checkpoint exactly.
    """
    path = Path(path)
    own = generator.state_dict()
    state = unfold_weight_norm_state(read_safetensors(path / "model.safetensors"), own)
    if fresh:
        starts_fresh = lambda key: any(key == p or key.startswith(p + ".") for p in fresh)  # noqa: E731
        unknown = [p for p in fresh if not any(starts_fresh(k) and k.startswith(p) for k in own)]
        if unknown:
            raise ValueError(f"init_fresh: {unknown} name no parameters of this model")
        state = {k: v for k, v in state.items() if not starts_fresh(k)}
        state.update({k: v for k, v in own.items() if starts_fresh(k)})
    load_state_strict(generator, state, str(path / "model.safetensors"))
    if discriminator is not None and (path / "discriminator.safetensors").is_file():
        load_state_strict(
            discriminator, read_safetensors(path / "discriminator.safetensors"), str(path / "discriminator.safetensors")
        )
    if aux is not None and (path / "aux.safetensors").is_file():
        heads, own = read_safetensors(path / "aux.safetensors"), aux.state_dict()
        if heads.keys() == own.keys() and all(heads[k].shape == own[k].shape for k in own):
            load_state_strict(aux, heads, str(path / "aux.safetensors"))
        else:
            log.warning(
                "%s: teacher heads not loaded (trained for another teacher or phone set); they start fresh",
                path / "aux.safetensors",
            )


def _prune(root: Path, keep_last: int) -> None:
    steps = sorted(p for p in root.glob("step_*") if p.is_dir())
    for old in steps[: max(0, len(steps) - max(1, keep_last))]:
        shutil.rmtree(old, ignore_errors=True)
