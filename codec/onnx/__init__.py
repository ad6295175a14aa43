"""ONNX export and the onnxruntime backend (optional extra: pip install 'speechcodec[onnx]')."""
