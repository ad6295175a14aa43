"""Training losses: spectral reconstruction, adversarial / feature matching, semantic distillation."""

from codec.losses.adversarial import (
    GanLossKind,
    discriminator_loss,
    feature_matching_loss,
    generator_adversarial_loss,
)
from codec.losses.distillation import (
    DistillationHead,
    PhoneHead,
    cosine_distillation_loss,
    phone_accuracy,
    phone_loss,
    resample_frames,
    resample_labels,
)
from codec.losses.spectral import MultiResolutionSTFTLoss, MultiScaleMelLoss, level_loss

__all__ = [
    "DistillationHead",
    "GanLossKind",
    "MultiResolutionSTFTLoss",
    "MultiScaleMelLoss",
    "PhoneHead",
    "cosine_distillation_loss",
    "discriminator_loss",
    "feature_matching_loss",
    "generator_adversarial_loss",
    "level_loss",
    "phone_accuracy",
    "phone_loss",
    "resample_frames",
    "resample_labels",
]
