"""`train(cfg)`: the whole run, top to bottom (nanoGPT-shaped): build, resume, loop, evaluate, save."""

from __future__ import annotations

import dataclasses
import logging
import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader

from codec.data.dataset import CropDataset, StepSampler, collate
from codec.data.manifest import Utterance, read_utterances
from codec.discriminators import MultiDiscriminator
from codec.hub.sources import resolve
from codec.losses import MultiResolutionSTFTLoss, MultiScaleMelLoss
from codec.models.codec import Codec
from codec.models.teachers import TeacherConfig, TeacherData, build_teacher
from codec.train.checkpoint import latest_checkpoint, load_modules, load_trainer_state, save_checkpoint
from codec.train.config import TrainConfig, train_config_dict
from codec.train.distributed import all_reduce_mean, barrier, cleanup, setup_distributed
from codec.train.evaluate import evaluate
from codec.train.logging import RunLogger, setup_console
from codec.train.step import TrainParts, train_step

log = logging.getLogger("codec.train")


@dataclass
class TrainResult:
    """Where a run ended."""

    step: int
    metrics: dict[str, float]
    checkpoint: Path | None


def train(cfg: TrainConfig) -> TrainResult:
    """Train (or resume) the run in `cfg.out_dir` until `cfg.max_steps`."""
    info = setup_distributed(cfg.device)
    setup_console(info.is_main)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    run_dir = Path(cfg.out_dir)
    utterances = read_utterances(cfg.data.train_manifest)
    cfg = _without_missing_alignments(cfg, utterances)
    parts = build_parts(cfg, info.device, utterances)
    teacher = parts.teacher
    step, cpu_spent = 0, 0.0
    resume_from = latest_checkpoint(run_dir)
    if resume_from is not None:
        step, cpu_spent = resume(parts, resume_from)
        log.info("resumed from %s at step %d", resume_from, step)
    elif cfg.init_from:
        load_modules(resolve(cfg.init_from), parts.model, parts.discriminator, parts.aux, cfg.init_fresh)
        log.info("initialised from %s%s", cfg.init_from, f" ({', '.join(cfg.init_fresh)} fresh)" * bool(cfg.init_fresh))

    model_cfg = cfg.model
    segment = round(cfg.data.segment_seconds * model_cfg.sample_rate)
    dataset = CropDataset(
        utterances, model_cfg.sample_rate, segment, model_cfg.frame_rate, teacher.phone_ids, teacher.feature_suffix
    )
    sampler = StepSampler(len(dataset), cfg.data.batch_size, cfg.seed, info.rank, step, cfg.max_steps)
    loader = DataLoader(dataset, batch_sampler=sampler, collate_fn=collate, num_workers=cfg.data.num_workers)
    logger = RunLogger(run_dir, info.is_main, start_step=step)
    if info.is_main:
        log.info(
            "training %s: %d params (generator), %d (discriminator), %d utterances, world size %d",
            model_cfg.name,
            _count(parts.model),
            _count(parts.discriminator),
            len(utterances),
            info.world_size,
        )
    metrics: dict[str, float] = {}
    checkpoint = None
    skipped = 0
    started, seen_seconds = time.time(), 0.0
    cpu_start = time.process_time() - cpu_spent  # CPU of every thread of this process, across resumes
    for batch in loader:
        step += 1
        torch.manual_seed(cfg.seed * 7919 + 1000 * info.rank + step)  # per rank, per step: resume-exact
        skipped += batch.skipped
        if _any_rank_empty(batch, info.device):
            log.warning("step %d: no usable audio in a batch; skipping the update", step)
            continue
        metrics = train_step(parts, batch, step)
        seen_seconds += float(batch.lengths.sum()) / model_cfg.sample_rate
        cpu_spent = time.process_time() - cpu_start
        out_of_budget = _any_rank(0 < cfg.max_cpu_seconds <= cpu_spent, info.device)
        last = step == cfg.max_steps or out_of_budget
        if step % cfg.log_every == 0 or last:
            metrics["data/skipped_items"] = float(skipped)
            metrics["speed/cpu_seconds"] = cpu_spent
            metrics["speed/audio_seconds_per_second"] = seen_seconds / max(time.time() - started, 1e-9)
            metrics = all_reduce_mean(metrics, info.device)
            logger.scalars(step, metrics)
            if info.is_main:
                log.info("step %d %s", step, _short(metrics))
        if cfg.data.valid_manifest and (step % cfg.eval_every == 0 or step == 1 or last):
            if info.is_main:
                scores = evaluate(parts.model, cfg, logger, step, teacher.phone_ids)
                log.info("eval step %d %s", step, _short(scores))
            barrier()
        if step % cfg.checkpoint_every == 0 or last:
            if info.is_main:
                checkpoint = save_checkpoint(
                    run_dir,
                    step,
                    parts.model,
                    parts.discriminator,
                    parts.aux,
                    trainer_state(parts, step, cpu_spent),
                    train_config_dict(cfg),
                    cfg.keep_last,
                )
            barrier()
        if out_of_budget:
            log.info(
                "stopping at step %d: %.0f CPU seconds used (max_cpu_seconds=%g)", step, cpu_spent, cfg.max_cpu_seconds
            )
            break
    logger.close()
    if info.world_size > 1:
        check_replicas(parts, info.device)
    cleanup()
    return TrainResult(step, metrics, checkpoint)


def build_parts(cfg: TrainConfig, device: torch.device, utterances: Sequence[Utterance] = ()) -> TrainParts:
    """Models, teacher, heads, losses, optimizers and schedules; weights are seeded identically on every rank."""
    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)
    model = Codec.from_config(cfg.model).to(device)
    discriminator = MultiDiscriminator(cfg.discriminator).to(device)
    teacher = build_teacher(cfg.teacher, TeacherData(utterances, str(cfg.data.train_manifest), str(device)))
    aux = nn.ModuleDict()
    head = teacher.head(cfg.model.latent_dim)
    if head is not None and teacher.head_name:
        aux[teacher.head_name] = head
    aux = aux.to(device)
    teacher = teacher.to(device)
    o = cfg.optim
    betas = (o.betas[0], o.betas[1])
    opt_g = torch.optim.AdamW(
        list(model.parameters()) + list(aux.parameters()), lr=o.lr, betas=betas, weight_decay=o.weight_decay
    )
    opt_d = torch.optim.AdamW(
        discriminator.parameters(), lr=o.discriminator_lr, betas=betas, weight_decay=o.weight_decay
    )
    schedule = lambda s: lr_factor(cfg, s)  # noqa: E731
    return TrainParts(
        cfg=cfg,
        model=model,
        discriminator=discriminator,
        aux=aux,
        teacher=teacher,
        opt_g=opt_g,
        opt_d=opt_d,
        sched_g=torch.optim.lr_scheduler.LambdaLR(opt_g, schedule),
        sched_d=torch.optim.lr_scheduler.LambdaLR(opt_d, schedule),
        mel_loss=MultiScaleMelLoss(cfg.model.sample_rate).to(device),
        stft_loss=MultiResolutionSTFTLoss().to(device),
        device=device,
    )


def check_replicas(parts: TrainParts, device: torch.device) -> None:
    """Raise if any rank's weights differ from rank 0's (per-tensor sums compared exactly)."""
    import torch.distributed as dist

    tensors = [t for m in (parts.model, parts.discriminator, parts.aux) for t in m.state_dict().values()]
    mine = torch.stack([t.detach().double().sum() for t in tensors]).to(device)
    gathered = [torch.empty_like(mine) for _ in range(dist.get_world_size())]
    dist.all_gather(gathered, mine)
    if not all(torch.equal(g, gathered[0]) for g in gathered):
        raise RuntimeError("model replicas diverged across ranks")
    log.info("replicas identical across %d ranks (%d tensors checked)", len(gathered), len(tensors))


def lr_factor(cfg: TrainConfig, step: int) -> float:
    """Linear warm-up, then exponential (gamma ** step), cosine (to 0 at max_steps) or constant."""
    o = cfg.optim
    if o.warmup_steps and step < o.warmup_steps:
        return (step + 1) / o.warmup_steps
    if o.schedule == "exponential":
        return o.gamma**step
    if o.schedule == "cosine":
        progress = min(1.0, (step - o.warmup_steps) / max(1, cfg.max_steps - o.warmup_steps))
        return 0.5 * (1 + math.cos(math.pi * progress))
    return 1.0


def trainer_state(parts: TrainParts, step: int, cpu_seconds: float = 0.0) -> dict:
    """Everything besides weights that resuming needs (tensors, numbers and dicts only)."""
    return {
        "step": step,
        "cpu_seconds": cpu_seconds,
        "opt_g": parts.opt_g.state_dict(),
        "opt_d": parts.opt_d.state_dict(),
        "sched_g": parts.sched_g.state_dict(),
        "sched_d": parts.sched_d.state_dict(),
    }


def resume(parts: TrainParts, path: Path) -> tuple[int, float]:
    """Load a checkpoint into `parts`; returns its step and the CPU seconds spent to reach it."""
    load_modules(path, parts.model, parts.discriminator, parts.aux)
    state = load_trainer_state(path)
    parts.opt_g.load_state_dict(state["opt_g"])
    parts.opt_d.load_state_dict(state["opt_d"])
    parts.sched_g.load_state_dict(state["sched_g"])
    parts.sched_d.load_state_dict(state["sched_d"])
    return int(state["step"]), float(state.get("cpu_seconds", 0.0))


def _without_missing_alignments(cfg: TrainConfig, utterances) -> TrainConfig:
    """teacher.kind=phones on a manifest without alignments: train without distillation, with a warning."""
    if cfg.teacher.kind != "phones" or any(u.alignment for u in utterances):
        return cfg
    log.warning(
        "%s: teacher.kind=phones but no row has an alignment; training without semantic distillation "
        "(teacher.kind=none). Add alignments or precomputed teacher features to keep codebook 0 semantic.",
        cfg.data.train_manifest,
    )
    return dataclasses.replace(cfg, teacher=TeacherConfig("none"))


def _any_rank_empty(batch, device: torch.device) -> bool:
    return _any_rank(batch.audio.shape[0] == 0, device)


def _any_rank(flag: bool, device: torch.device) -> bool:
    """True on every rank when `flag` is true on at least one."""
    import torch.distributed as dist

    value = torch.tensor([float(flag)], device=device)
    if dist.is_initialized():
        dist.all_reduce(value)
    return bool(value.item() > 0)


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _short(metrics: dict[str, float]) -> str:
    keys = [k for k in metrics if k.startswith(("loss/", "eval/")) or k.startswith("speed/")]
    return " ".join(f"{k.split('/', 1)[-1]}={metrics[k]:.4g}" for k in keys)
