"""Quantizers: latent frames <-> int64 codes [B, K, F], the first levels semantic; one module per kind."""

from codec.models.interfaces import QuantizerOutput
from codec.quantization.rvq import ResidualQuantizer, RVQConfig

__all__ = ["QuantizerOutput", "RVQConfig", "ResidualQuantizer"]
