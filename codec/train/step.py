"""One GAN training step (discriminator update, then generator) and the gradient helpers it uses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import torch
import torch.distributed as dist
from torch import nn

from codec.data.dataset import Batch
from codec.discriminators import MultiDiscriminator, split_outputs
from codec.losses import (
    MultiResolutionSTFTLoss,
    MultiScaleMelLoss,
    discriminator_loss,
    feature_matching_loss,
    generator_adversarial_loss,
    level_loss,
)
from codec.models.codec import Codec
from codec.models.teachers import Teacher
from codec.nn.masks import apply_mask
from codec.train.config import TrainConfig


@dataclass
class TrainParts:
    """Everything a step touches."""

    cfg: TrainConfig
    model: Codec
    discriminator: MultiDiscriminator
    aux: nn.ModuleDict
    teacher: Teacher
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    sched_g: torch.optim.lr_scheduler.LRScheduler
    sched_d: torch.optim.lr_scheduler.LRScheduler
    mel_loss: MultiScaleMelLoss
    stft_loss: MultiResolutionSTFTLoss
    device: torch.device


def gan_active(cfg: TrainConfig, step: int) -> bool:
    """The discriminators train and judge once the mel-only warm-up is over (and a GAN weight is set)."""
    weights = cfg.loss.weights
    wants = weights.get("loss/adversarial", 0) > 0 or weights.get("loss/feature", 0) > 0
    return wants and step > cfg.loss.mel_only_steps


def train_step(parts: TrainParts, batch: Batch, step: int) -> dict[str, float]:
    """Update the discriminator (after warm-up) and then the generator; returns logged scalars."""
    cfg, dev = parts.cfg, parts.device
    audio, lengths = batch.audio.to(dev), batch.lengths.to(dev)
    autocast = torch.autocast(dev.type, dtype=torch.bfloat16, enabled=_use_bf16(cfg, dev))
    parts.model.train()
    with autocast:
        out = parts.model(audio, lengths)
    recon = apply_mask(out.audio[..., : audio.shape[-1]].float(), lengths)
    audio = apply_mask(audio, lengths)
    metrics: dict[str, float] = {}

    use_gan = gan_active(cfg, step)
    window = _judge_window(cfg, audio.shape[-1], parts.model.sample_rate)
    if use_gan:
        with autocast:
            real, fake = _judge(parts.discriminator, audio[..., window], recon.detach()[..., window])
        loss_d = discriminator_loss(real[0], fake[0], cfg.loss.gan)
        parts.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        metrics["grad_norm/discriminator"] = clip_and_sync(parts.discriminator.parameters(), cfg.optim.grad_clip)
        parts.opt_d.step()
        parts.sched_d.step()
        metrics["loss/discriminator"] = loss_d.item()

    losses = {
        "loss/mel": parts.mel_loss(recon, audio, lengths),
        "loss/commitment": out.commitment_loss.float(),
        "loss/level": level_loss(recon, audio, lengths, frame=parts.model.frame_size),  # logged even at weight 0
    }
    if cfg.loss.weights.get("loss/stft", 0) > 0:
        losses["loss/stft"] = parts.stft_loss(recon, audio, lengths)
    decoder_losses = getattr(parts.model.decoder, "training_losses", None)  # a decoder's own supervision
    if decoder_losses is not None:
        losses.update(decoder_losses(audio, lengths))
    semantic = semantic_loss(parts, out, batch, audio, lengths)
    if semantic is not None:
        losses["loss/distill"] = semantic
    if use_gan:
        with autocast:
            real, fake = _judge(parts.discriminator, audio[..., window], recon[..., window])
        losses["loss/adversarial"] = generator_adversarial_loss(fake[0], cfg.loss.gan)
        losses["loss/feature"] = feature_matching_loss(real[1], fake[1])
    total = cast(torch.Tensor, sum(cfg.loss.weights.get(name, 0.0) * value for name, value in losses.items()))
    parts.opt_g.zero_grad(set_to_none=True)
    total.backward()
    metrics["grad_norm/generator"] = clip_and_sync(
        list(parts.model.parameters()) + list(parts.aux.parameters()), cfg.optim.grad_clip
    )
    parts.opt_g.step()
    parts.sched_g.step()
    parts.discriminator.zero_grad(set_to_none=True)  # the generator pass left gradients there

    metrics.update({name: value.item() for name, value in losses.items()})
    metrics["loss/total"] = float(total.item())
    metrics["lr"] = float(parts.sched_g.get_last_lr()[0])
    metrics.update(codebook_stats(parts.model, out.codes, out.frame_lengths))
    return metrics


def semantic_loss(
    parts: TrainParts, out, batch: Batch, audio: torch.Tensor, lengths: torch.Tensor
) -> torch.Tensor | None:
    """Distillation of the semantic codebooks' quantized output toward the configured teacher (None: no teacher)."""
    name = parts.teacher.head_name
    head = parts.aux[name] if name is not None and name in parts.aux else None
    return parts.teacher.loss(
        head, out.semantic_quantized.float(), out.frame_lengths, batch, audio, lengths, parts.model.sample_rate
    )


def _judge_window(cfg: TrainConfig, num_samples: int, sample_rate: int) -> slice:
    """The samples the discriminators see this step: a random sub-crop, or everything (crop_seconds 0)."""
    crop = round(cfg.discriminator.crop_seconds * sample_rate)
    if crop <= 0 or crop >= num_samples:
        return slice(None)
    start = int(torch.randint(0, num_samples - crop + 1, (1,)).item())  # seeded per step by the loop
    return slice(start, start + crop)


def _judge(disc: MultiDiscriminator, real: torch.Tensor, fake: torch.Tensor):
    """One discriminator forward over [real; fake] (one pass keeps data-parallel gradient sync simple)."""
    logits, features = split_outputs(disc(torch.cat([real, fake])))
    n = real.shape[0]
    real_out = ([l[:n] for l in logits], [[f[:n] for f in fs] for fs in features])
    fake_out = ([l[n:] for l in logits], [[f[n:] for f in fs] for fs in features])
    return real_out, fake_out


def clip_and_sync(params, max_norm: float) -> float:
    """Average gradients over ranks (one flat all-reduce), then clip; returns the pre-clip norm."""
    params = [p for p in params if p.grad is not None]
    if not params:
        return 0.0
    if dist.is_initialized() and dist.get_world_size() > 1:
        flat = torch.cat([p.grad.reshape(-1) for p in params])
        dist.all_reduce(flat)
        flat /= dist.get_world_size()
        offset = 0
        for p in params:
            n = p.grad.numel()
            p.grad.copy_(flat[offset : offset + n].view_as(p.grad))
            offset += n
    norm = torch.nn.utils.clip_grad_norm_(params, max_norm if max_norm > 0 else float("inf"))
    return float(norm)


def codebook_stats(model: Codec, codes: torch.Tensor, frame_lengths: torch.Tensor) -> dict[str, float]:
    """The quantizer's own statistics of this batch's codes, as codebook/* scalars."""
    return {f"codebook/{k}": v for k, v in model.quantizer.codebook_stats(codes, frame_lengths).items()}


def _use_bf16(cfg: TrainConfig, device: torch.device) -> bool:
    if cfg.precision == "auto":
        return device.type == "cuda"
    return cfg.precision == "bf16"
