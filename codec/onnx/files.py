"""What an ONNX export directory holds (names, format version) and the optional-dependency check."""

from __future__ import annotations

MANIFEST = "onnx.json"
FORMAT = "codec.onnx"
FORMAT_VERSION = 1
GRAPH_FILES = {
    ("encode", False): "encoder.onnx",
    ("decode", False): "decoder.onnx",
    ("encode", True): "encoder.int8.onnx",
    ("decode", True): "decoder.int8.onnx",
    ("encode_step", False): "encode_step.onnx",
    ("decode_step", False): "decode_step.onnx",
}


def require_onnx() -> None:
    """ImportError with the install hint unless both onnx and onnxruntime import."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as err:
        raise ImportError(
            f"the ONNX backend needs onnx and onnxruntime ({err}): pip install 'speechcodec[onnx]'"
        ) from None
