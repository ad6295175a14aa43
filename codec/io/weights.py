"""Safe weight files: safetensors only for models, with clear errors and no code execution."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors_bytes
from safetensors.torch import save as save_safetensors_bytes

from codec.io.files import atomic_write_bytes

PICKLE_MAGIC = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05", b"PK\x03\x04")


def read_safetensors(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Tensors of a safetensors file; a pickle/zip (torch.save) or corrupt file raises ValueError naming it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: weights file not found")
    data = path.read_bytes()
    if data[:4].startswith(PICKLE_MAGIC) or data[:2] in PICKLE_MAGIC:
        raise ValueError(
            f"{path}: looks like a pickle/torch.save file; refusing to load it (only safetensors weights are accepted)"
        )
    try:
        return load_safetensors_bytes(data)
    except (SafetensorError, ValueError, RuntimeError) as err:
        raise ValueError(f"{path}: not a valid safetensors file ({err})") from None


def write_safetensors(
    path: str | os.PathLike, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None
) -> None:
    """Write tensors atomically (shared storage is copied so every tensor stands alone)."""
    plain = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    atomic_write_bytes(Path(path), save_safetensors_bytes(plain, metadata=metadata))


def sha256_file(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk_size), b""):
            digest.update(block)
    return digest.hexdigest()


def load_state_strict(module: torch.nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Load `state` into `module`; missing/unexpected keys or shape mismatches raise ValueError naming `source`."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        raise ValueError(
            f"{source}: weights do not match the config (missing {missing[:5]}, unexpected {unexpected[:5]})"
        )
    for key, value in state.items():
        if own[key].shape != value.shape:
            raise ValueError(f"{source}: {key} has shape {tuple(value.shape)}, config expects {tuple(own[key].shape)}")
    module.load_state_dict(state, strict=True)


def fold_weight_norm(module: torch.nn.Module) -> torch.nn.Module:
    """Replace weight-norm parametrizations by plain weights (same outputs, faster, simpler state dict)."""
    from torch.nn.utils import parametrize

    for sub in module.modules():
        if parametrize.is_parametrized(sub, "weight"):
            parametrize.remove_parametrizations(sub, "weight", leave_parametrized=True)
    return module


def has_weight_norm(state: dict[str, torch.Tensor]) -> bool:
    """Whether a state dict stores weight-norm parametrizations (as training checkpoints do)."""
    return any(".parametrizations.weight." in key for key in state)


def unfold_weight_norm_state(
    state: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """Turn folded `x.weight` entries into weight-norm `original0/1` pairs where `expected` wants them."""
    out = dict(state)
    for key in expected:
        if key.endswith(".parametrizations.weight.original0"):
            prefix = key[: -len(".parametrizations.weight.original0")]
            weight = out.pop(f"{prefix}.weight", None)
            if weight is not None:
                out[key] = torch.norm_except_dim(weight, 2, 0)
                out[f"{prefix}.parametrizations.weight.original1"] = weight
    return out
