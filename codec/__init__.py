"""codec: speech tokenizer with semantic + acoustic residual codebooks."""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:
    from codec import layouts
    from codec.config import CodecConfig
    from codec.models.codec import Codec
    from codec.onnx.backend import OnnxCodec
    from codec.tokens import Tokens

__all__ = ["Codec", "CodecConfig", "Tokens", "__version__", "layouts", "load"]


def load(source: str, device: str = "cpu", backend: str = "torch") -> Codec | OnnxCodec:
    """Load a codec from a checkpoint directory (or registered name, or ONNX export directory).

    backend: `torch` (the reference, Codec.from_pretrained), `onnx` / `onnx-int8` (onnxruntime, the
    same tokenize/detokenize API; needs `pip install 'speechcodec[onnx]'`) or `auto` (onnx where
    installed and on the CPU, else torch); see codec.onnx.select.
    """
    from codec.onnx.select import load_backend

    return load_backend(source, device=device, backend=backend)


def __getattr__(name: str):
    # Lazy re-exports keep `import codec` and `codec --help` fast (torch imports take seconds).
    if name == "Codec":
        from codec.models.codec import Codec

        return Codec
    if name == "CodecConfig":
        from codec.config import CodecConfig

        return CodecConfig
    if name == "Tokens":
        from codec.tokens import Tokens

        return Tokens
    if name == "layouts":
        import importlib

        return importlib.import_module("codec.layouts")
    raise AttributeError(f"module 'codec' has no attribute {name!r}")
