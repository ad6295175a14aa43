"""Backend choice behind `codec.load(..., backend=...)` and `--backend`.

`torch` is the reference. `onnx` runs the exported float32 graphs in onnxruntime (codes equal to
torch on >= 99 % of frames, audio within 1e-3), `onnx-int8` the int8 ones (lossy, see
docs/benchmarks.md). `auto` is `onnx` when onnx and onnxruntime are installed and the device is the
CPU (where it measured faster, docs/benchmarks.md), else `torch`; a model that cannot be exported
falls back to torch with a note. A torch checkpoint is exported once into the cache
(CACHE/onnx/<model id>/codec-<version>-<export code hash>/), keyed by the weights' sha256 and by
the export code, so a changed exporter never serves stale graphs.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from pathlib import Path

BACKENDS = ("auto", "torch", "onnx", "onnx-int8")


def onnx_available() -> bool:
    """Whether onnx and onnxruntime import here."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def onnx_cache_dir(model_id: str) -> Path:
    """Where the ONNX export of a model id is cached: keyed by the weights and by the export code itself."""
    from codec import __version__
    from codec.hub.sources import cache_root
    from codec.onnx import export, graphs, state

    source = b"".join(Path(str(module.__file__)).read_bytes() for module in (graphs, export, state))
    code = hashlib.sha256(source).hexdigest()[:10]
    return cache_root() / "onnx" / re.sub(r"[^A-Za-z0-9._@-]", "_", model_id) / f"codec-{__version__}-{code}"


def load_backend(source: str | os.PathLike, device: str = "cpu", backend: str = "torch"):
    """A model with the tokenize/detokenize API on the chosen backend (see the module docstring)."""
    from codec.models.codec import Codec
    from codec.onnx.files import GRAPH_FILES, MANIFEST

    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    on_cpu = str(device) == "cpu"
    if backend == "auto":
        backend = "onnx" if on_cpu and onnx_available() else "torch"
        fallback = True
    else:
        fallback = False
    if backend == "torch":
        return Codec.from_pretrained(source, device=device)
    if not on_cpu:
        raise ValueError(f"the {backend} backend runs on the CPU; use the torch backend for device {device!r}")
    from codec.onnx.backend import OnnxCodec

    int8 = backend == "onnx-int8"
    if (Path(source) / MANIFEST).is_file():
        return OnnxCodec(source, int8=int8)
    model = Codec.from_pretrained(source)
    directory = onnx_cache_dir(model.model_id)
    if not (directory / MANIFEST).is_file() or not (directory / GRAPH_FILES[("decode", int8)]).is_file():
        from codec.onnx.export import export_onnx

        print(f"note: exporting {model.model_id} to ONNX in {directory} (once)", file=sys.stderr)
        try:
            export_onnx(model, directory, int8=int8, force=True)
        except ValueError as err:
            if not fallback:
                raise
            print(f"note: using the torch backend: {err}", file=sys.stderr)
            return model
    return OnnxCodec(directory, int8=int8)
