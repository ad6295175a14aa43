"""Held-out evaluation during training: mel distance (full and coarse tokens), phone purity, audio samples."""

from __future__ import annotations

import logging

import torch

from codec.data.manifest import read_utterances
from codec.io.audio import load_audio, mono_resampled
from codec.metrics import frame_phone_labels, log_mel_distance, phone_purity, pnmi
from codec.models.codec import Codec
from codec.train.config import TrainConfig

log = logging.getLogger("codec.train")


@torch.no_grad()
def evaluate(
    model: Codec, cfg: TrainConfig, logger, step: int, phone_ids: dict[str, int] | None = None
) -> dict[str, float]:
    """Score the first `valid_items` utterances of the validation manifest; logs and returns eval/* scalars."""
    try:
        model.quantizer.check_initialised()
    except ValueError:
        log.info("eval skipped at step %d: codebooks not initialised yet", step)
        return {}
    model.eval()
    utterances = read_utterances(cfg.data.valid_manifest)[: cfg.data.valid_items]
    coarse_k = cfg.model.quantizer.num_semantic_codebooks
    full, coarse, codes_by_book, labels = [], [], [[] for _ in range(model.num_codebooks)], []
    label_map = dict(phone_ids or {})
    for index, utt in enumerate(utterances):
        try:
            wav, rate = load_audio(utt.path)
        except (OSError, ValueError) as err:
            log.warning("eval: skipping %s", err)
            continue
        wav = mono_resampled(wav, rate, model.sample_rate)[:, : int(cfg.data.valid_seconds * model.sample_rate)]
        tokens = model.tokenize(wav, model.sample_rate)
        recon = model.detokenize(tokens)[0].cpu()
        recon_coarse = model.detokenize(tokens.truncate(coarse_k))[0].cpu()
        full.append(log_mel_distance(wav, recon, model.sample_rate))
        coarse.append(log_mel_distance(wav, recon_coarse, model.sample_rate))
        if utt.alignment:
            frames = tokens.num_frames
            ids, label_map = frame_phone_labels(
                utt.alignment, frames, model.frame_rate, label_map, ignore_labels=("sil",)
            )
            labels.append(ids)
            for k in range(model.num_codebooks):
                codes_by_book[k].append(tokens.codes[0, k].cpu())
        if index < cfg.audio_samples:
            logger.audio(step, f"{index}/original", wav[0], model.sample_rate)
            logger.audio(step, f"{index}/full", recon[0], model.sample_rate)
            logger.audio(step, f"{index}/coarse", recon_coarse[0], model.sample_rate)
    scores: dict[str, float] = {}
    if full:
        scores["eval/mel_distance"] = sum(full) / len(full)
        scores["eval/mel_distance_coarse"] = sum(coarse) / len(coarse)
    if labels:
        phones = torch.cat(labels)
        for k in range(min(2, model.num_codebooks)):
            codes = torch.cat(codes_by_book[k])
            scores[f"eval/phone_purity_{k}"] = phone_purity(codes, phones)
            scores[f"eval/pnmi_{k}"] = pnmi(codes, phones)
    logger.scalars(step, scores, split="eval")
    model.train()
    return scores
