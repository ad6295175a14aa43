"""GAN losses over lists of discriminator outputs (one entry per sub-discriminator).

Logits may have any shape; each sub-discriminator's logits are averaged over all their elements and
the results are averaged (not summed) over sub-discriminators, so loss scales do not depend on how
many sub-discriminators there are. Padding is not masked here (logit maps of strided convolutions do
not map cleanly onto sample lengths); mask the waveforms upstream (e.g. zero both real and fake padding).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F

GanLossKind = Literal["hinge", "lsgan"]


def _check(kind: str, *groups: Sequence[object]) -> None:
    """Validate the loss kind and that the lists are non-empty and equally long."""
    if kind not in ("hinge", "lsgan"):
        raise ValueError(f"unknown GAN loss kind {kind!r}; expected 'hinge' or 'lsgan'")
    if not groups[0]:
        raise ValueError("expected at least one discriminator output")
    if any(len(group) != len(groups[0]) for group in groups):
        raise ValueError("real and fake output lists must have the same length")


def discriminator_loss(
    real_logits: Sequence[torch.Tensor], fake_logits: Sequence[torch.Tensor], kind: GanLossKind = "hinge"
) -> torch.Tensor:
    """Discriminator loss (low when real logits are high and fake logits low); pass detached fakes."""
    _check(kind, real_logits, fake_logits)
    terms = []
    for real, fake in zip(real_logits, fake_logits):
        real, fake = real.float(), fake.float()
        if kind == "hinge":
            terms.append(F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean())
        else:
            terms.append((1.0 - real).pow(2).mean() + fake.pow(2).mean())
    return torch.stack(terms).mean()


def generator_adversarial_loss(fake_logits: Sequence[torch.Tensor], kind: GanLossKind = "hinge") -> torch.Tensor:
    """Generator adversarial loss (low when the discriminator scores fakes as real)."""
    _check(kind, fake_logits)
    terms = []
    for fake in fake_logits:
        fake = fake.float()
        terms.append(F.relu(1.0 - fake).mean() if kind == "hinge" else (1.0 - fake).pow(2).mean())
    return torch.stack(terms).mean()


def feature_matching_loss(
    real_features: Sequence[Sequence[torch.Tensor]],
    fake_features: Sequence[Sequence[torch.Tensor]],
    *,
    relative: bool = False,
    eps: float = 1e-5,
) -> torch.Tensor:
    """Mean over all layers of all sub-discriminators of the per-layer mean L1 between feature maps.

    Real features are detached. With `relative=True` each layer's L1 is divided by the mean |real|
    of that layer, so layers with large activations do not dominate.
    """
    if not real_features:
        raise ValueError("expected at least one discriminator's features")
    if len(real_features) != len(fake_features):
        raise ValueError("real and fake feature lists must have the same length")
    terms = []
    for real_maps, fake_maps in zip(real_features, fake_features):
        if len(real_maps) != len(fake_maps):
            raise ValueError("real and fake feature maps differ in number of layers")
        for real, fake in zip(real_maps, fake_maps):
            real, fake = real.detach().float(), fake.float()
            layer = (real - fake).abs().mean()
            if relative:
                layer = layer / (real.abs().mean() + eps)
            terms.append(layer)
    if not terms:
        raise ValueError("no feature maps given")
    return torch.stack(terms).mean()
