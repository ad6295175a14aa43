"""Residual vector quantization with a semantic/acoustic split."""

from codec.quantization.rvq import QuantizerOutput, ResidualQuantizer

__all__ = ["QuantizerOutput", "ResidualQuantizer"]
