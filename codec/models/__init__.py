"""Models: the codec (models/codec.py) joining parts behind the contracts in models/interfaces.py.

Part kinds are registered in models/parts.py (encoders/, decoders/, codec/quantization/) and
teachers in models/teachers.py; docs/architecture.md shows how to add one.
"""
