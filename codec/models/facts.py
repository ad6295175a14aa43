"""What `codec info` and model cards say about a model: rates, codebooks, bitrate, parts, sizes, latency."""

from __future__ import annotations

from torch import nn

from codec.models.codec import Codec
from codec.runtime.streaming import algorithmic_latency


def model_facts(model: Codec) -> dict[str, object]:
    """What `codec info` prints about a model."""
    cfg = model.cfg

    def count(module: nn.Module) -> int:
        return sum(p.numel() for p in module.parameters())

    return {
        "model_id": model.model_id,
        "sample_rate": cfg.sample_rate,
        "frame_rate": cfg.frame_rate,
        "frame_size": cfg.frame_size,
        "num_codebooks": model.num_codebooks,
        "num_semantic_codebooks": model.num_semantic_codebooks,
        "codebook_size": model.codebook_size,
        "bitrate_bps": cfg.bitrate,
        "encoder": cfg.encoder.kind,
        "quantizer": cfg.quantizer.kind,
        "decoder": cfg.decoder.kind,
        "causal": cfg.causal,
        "params_encoder": count(model.encoder),
        "params_quantizer": count(model.quantizer),
        "params_decoder": count(model.decoder),
        "latency": algorithmic_latency(cfg).describe(),
    }
