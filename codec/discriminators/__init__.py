"""GAN discriminators: multi-period and multi-resolution complex-STFT, combined in `MultiDiscriminator`."""

from codec.discriminators.base import DiscriminatorOutput, split_outputs
from codec.discriminators.multi import DiscriminatorConfig, MultiDiscriminator
from codec.discriminators.period import MultiPeriodDiscriminator, PeriodDiscriminator
from codec.discriminators.stft import (
    DEFAULT_BANDS,
    MultiResolutionSTFTDiscriminator,
    STFTDiscriminator,
)

__all__ = [
    "DEFAULT_BANDS",
    "DiscriminatorConfig",
    "DiscriminatorOutput",
    "MultiDiscriminator",
    "MultiPeriodDiscriminator",
    "MultiResolutionSTFTDiscriminator",
    "PeriodDiscriminator",
    "STFTDiscriminator",
    "split_outputs",
]
