"""Export-ready torch modules: the codec's encode (audio -> codes) and decode (codes -> audio) paths
rewritten with ops every ONNX runtime has, computing what the torch model computes.

What changes against the torch model (the arithmetic is the same up to float rounding):
* STFT and inverse STFT (periodic Hann, n_fft a multiple of the hop: every shipped config) are
  DFT matmuls over hop-sized blocks (no FFT or fold op, and a fraction of the multiplies of a DFT
  matmul per n_fft frame);
* the frame-rate stacks run channel-last, their input convs as one matmul over shifted frames;
* the residual quantizer's nearest-neighbour search is the same squared-distance argmin, with each
  level's output projection folded into its codebook (a [codebook_size, latent_dim] table);
* ConvNeXt layer scales are folded into the second pointwise layer, weight norm is folded.

The rewritten modules stream as the ones they replace (codec.nn.streaming; the step graphs of
causal models, codec.onnx.state): the block STFT and the input conv of a channel-last stack keep
their left context, the block iSTFT its overlap-add buffer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import torch
from torch import nn

from codec.io.weights import fold_weight_norm
from codec.models.decoders import HarmonicDecoder, VocoderDecoder
from codec.models.encoders.frame import FrameEncoder
from codec.nn.convnext import ConvNeXtBlock, ConvNeXtStack
from codec.nn.masks import length_mask
from codec.nn.stft import FrameSTFT, ISTFTHead
from codec.nn.streaming import PreviousInputs, StreamingModule, left_context, zeros_context
from codec.quantization.rvq import ResidualQuantizer

if TYPE_CHECKING:
    from vector_quantize_pytorch import VectorQuantize

    from codec.models.codec import Codec


def _check_stft(n_fft: int, hop: int, window: torch.Tensor, what: str) -> int:
    """n_fft // hop; ValueError unless n_fft is a multiple of hop and the window is the periodic Hann."""
    if n_fft % hop:
        raise ValueError(f"ONNX export needs the {what} n_fft ({n_fft}) to be a multiple of the frame size ({hop})")
    if not torch.allclose(window.float().cpu(), torch.hann_window(n_fft)):
        raise ValueError(f"ONNX export needs the {what} STFT window to be torch.hann_window({n_fft})")
    return n_fft // hop


def _masked(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """`x * mask`, or `x` when streaming (no mask: every frame is present)."""
    return x if mask is None else x * mask


def overlap_add(frames: torch.Tensor, ratio: int, hop: int) -> torch.Tensor:
    """Frames [B, F, ratio * hop] placed every hop samples and summed -> [B, (F + ratio - 1) * hop]."""
    batch, num_frames = frames.shape[0], frames.shape[1]
    blocks = frames.reshape(batch, num_frames, ratio, hop)
    out = None
    for r in range(ratio):
        part = nn.functional.pad(blocks[:, :, r, :], (0, 0, r, ratio - 1 - r))
        out = part if out is None else out + part
    assert out is not None, "ratio >= 1"
    return out.reshape(batch, -1)


def _combine(coefs: list[float], terms: list[torch.Tensor]) -> torch.Tensor:
    """sum_i coefs[i] * terms[i]; zero terms are skipped and +-1 written as add/sub (no multiply)."""
    out = None
    for coef, term in zip(coefs, terms):
        if abs(coef) < 1e-9:
            continue
        term = term if abs(coef - 1) < 1e-9 else (-term if abs(coef + 1) < 1e-9 else coef * term)
        out = term if out is None else out + term
    if out is None:
        raise ValueError("_combine needs at least one nonzero coefficient")
    return out


class BlockSTFT(StreamingModule):
    """FrameSTFT (n_fft = ratio * hop) -> [B, F, 2 * bins]: [real | imag], bins in the order `order`.

    Bins are grouped by k mod ratio. For bins of class c, the frame's DFT is the hop-point DFT (at
    those bins) of one hop-sample signal, sum_r e^{-2 pi i r c / ratio} (window_r * block_{f+r}):
    for ratio 4 the block combinations are additions (real for c = 0, 2; complex for c = 1, 3), and
    the matmuls cost ~1.5 hop x bins per frame instead of n_fft x bins for a DFT matmul per frame.
    """

    segments: torch.Tensor
    order: torch.Tensor

    def __init__(self, stft: FrameSTFT) -> None:
        super().__init__()
        n_fft, hop = stft.n_fft, stft.hop
        self.hop, self.padding = hop, stft.padding
        self.ratio = _check_stft(n_fft, hop, stft.window, "encoder")
        self.bins = n_fft // 2 + 1
        self.register_buffer("segments", stft.window.reshape(self.ratio, hop).clone())
        n = torch.arange(hop, dtype=torch.float64)
        self.classes: list[tuple[list[float], list[float] | None, int]] = []
        order = []
        for c in range(min(self.ratio, self.bins)):
            ks = torch.arange(c, self.bins, self.ratio, dtype=torch.float64)
            theta = [2 * math.pi * r * c / self.ratio for r in range(self.ratio)]
            cos, minus_sin = [math.cos(t) for t in theta], [-math.sin(t) for t in theta]
            phi = 2 * math.pi * torch.outer(n, ks) / n_fft
            basis = torch.cat([torch.cos(phi), -torch.sin(phi)], dim=1)  # real input -> [real | imag]
            complex_input = any(abs(v) > 1e-9 for v in minus_sin)
            if complex_input:  # imaginary input part: i * e^{-i phi} = sin + i cos
                basis = torch.cat([basis, torch.cat([torch.sin(phi), torch.cos(phi)], dim=1)])
            self.register_buffer(f"basis{c}", basis.float())
            self.classes.append((cos, minus_sin if complex_input else None, len(ks)))
            order.append(ks.long())
        self.register_buffer("order", torch.cat(order), persistent=False)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        if self.streaming_state is not None:
            x = left_context(self, audio, self.padding[0])[:, 0]
        else:
            x = nn.functional.pad(audio[:, 0], self.padding)
        blocks = x.reshape(x.shape[0], -1, self.hop)  # [B, F + ratio - 1, hop]
        num_frames = blocks.shape[1] - self.ratio + 1
        windowed = [blocks[:, r : r + num_frames] * self.segments[r] for r in range(self.ratio)]
        reals, imags = [], []
        for c, (cos, minus_sin, size) in enumerate(self.classes):
            signal = _combine(cos, windowed)
            if minus_sin is not None:
                signal = torch.cat([signal, _combine(minus_sin, windowed)], dim=-1)
            y = signal @ getattr(self, f"basis{c}")
            reals.append(y[..., :size])
            imags.append(y[..., size:])
        return torch.cat(reals + imags, dim=-1)

    def init_state(self, batch_size: int) -> PreviousInputs:
        """Zero left context (as FrameSTFT)."""
        if self.padding[1]:
            raise ValueError("only the causal STFT can stream")
        return zeros_context(self, batch_size, 1, self.padding[0])


class ExportFrameEncoder(nn.Module):
    """FrameEncoder with the block STFT and channel-last input/output: -> latent [B, F, D]."""

    def __init__(self, encoder: FrameEncoder) -> None:
        super().__init__()
        self.stft = BlockSTFT(encoder.stft)
        self.bins = encoder.stft.n_fft // 2 + 1
        order = self.stft.order
        self.backbone = ChannelLastStack(encoder.backbone, input_order=torch.cat([order, order + self.bins]))
        self.proj = as_linear(encoder.proj)

    def forward(self, audio: torch.Tensor, frame_lengths: torch.Tensor | None) -> torch.Tensor:
        spec = self.stft(audio)
        real, imag = spec[..., : self.bins], spec[..., self.bins :]
        scale = (torch.sqrt(real * real + imag * imag) + 1e-5).pow(-0.7)  # magnitude ** 0.3, phase kept
        x = torch.cat([real * scale, imag * scale], dim=-1)
        mask = None if frame_lengths is None else length_mask(frame_lengths, x.shape[1])[..., None].to(x.dtype)
        return _masked(self.proj(self.backbone(x, mask)), mask)


def as_linear(conv: nn.Conv1d) -> nn.Linear:
    """A Conv1d (stride 1, no dilation, no groups) as the Linear layer over its `kernel` stacked shifted inputs."""
    out_ch, in_ch, kernel = conv.weight.shape
    linear = nn.Linear(in_ch * kernel, out_ch, bias=conv.bias is not None)
    linear.weight.data = conv.weight.detach().permute(0, 2, 1).reshape(out_ch, kernel * in_ch).clone()
    if conv.bias is not None:
        linear.bias.data = conv.bias.detach().clone()
    return linear


class ChannelLastStack(StreamingModule):
    """ConvNeXtStack on [B, F, C] with a float mask [B, F, 1] (None when streaming); the input conv is one
    matmul over shifted frames."""

    def __init__(self, stack: ConvNeXtStack, input_order: torch.Tensor | None = None) -> None:
        super().__init__()
        self.embed_padding, self.kernel = stack.embed_padding, stack.embed.kernel_size[0]
        self.embed = as_linear(stack.embed)
        if input_order is not None:  # the input channels arrive permuted (kernel-1 input convs only)
            assert self.kernel == 1
            self.embed.weight.data = self.embed.weight.data[:, input_order].contiguous()
        self.norm_in, self.blocks, self.norm_out = stack.norm_in, stack.blocks, stack.norm_out

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        x = _masked(x, mask)
        if self.kernel > 1:
            frames = x.shape[1]
            if self.streaming_state is not None:  # the state is channel-first, as ConvNeXtStack's
                x = left_context(self, x.transpose(1, 2), self.embed_padding[0]).transpose(1, 2)
            else:
                x = nn.functional.pad(x, (0, 0, *self.embed_padding))
            x = torch.cat([x[:, t : t + frames] for t in range(self.kernel)], dim=-1)
        x = _masked(self.norm_in(self.embed(x)), mask).transpose(1, 2)
        mask_cf = None if mask is None else mask.transpose(1, 2)
        for block in self.blocks:
            x = _masked(block(x), mask_cf)
        return _masked(self.norm_out(x.transpose(1, 2)), mask)

    def init_state(self, batch_size: int) -> PreviousInputs:
        """Zero left context for the input conv (as ConvNeXtStack)."""
        if self.embed_padding[1]:
            raise ValueError("only causal ConvNeXt stacks can stream")
        return zeros_context(self, batch_size, self.embed.in_features // self.kernel, self.embed_padding[0])


@dataclass
class StepOverlapAdd:
    """The block iSTFT's streaming state: the overlap-add positions not complete yet ([B, n_fft - hop] summed
    frames and their [n_fft - hop] squared-window envelope) and how many samples of the stream were emitted,
    counted up to n_fft - hop (those first samples are trimmed offline and emitted as zeros)."""

    audio: torch.Tensor
    envelope: torch.Tensor
    emitted: torch.Tensor


class BlockISTFTHead(StreamingModule):
    """ISTFTHead (periodic Hann, n_fft = ratio * hop), offline: features [B, F, dim] -> audio [B, 1, F * hop].

    Bins are grouped by k mod ratio (the projection's outputs are permuted to match). For class c,
    one matmul gives the complex hop-sample signal Z_c = sum_{k in c} w_k X[k] e^{2 pi i k n / n_fft};
    segment r of the frame is sum_c Re(e^{2 pi i r c / ratio} Z_c) (additions for ratio 4), then
    windowed and overlap-added: ~1.5 bins x hop multiplies per frame instead of bins x n_fft.
    """

    segments: torch.Tensor
    window_sq: torch.Tensor

    def __init__(self, head: ISTFTHead) -> None:
        super().__init__()
        n_fft, hop = head.n_fft, head.hop
        self.hop, self.trim_left = hop, head.trim_left
        self.bins = n_fft // 2 + 1
        self.ratio = _check_stft(n_fft, hop, head.window, "decoder")
        n = torch.arange(hop, dtype=torch.float64)
        self.classes: list[tuple[int, int, bool]] = []  # (offset in class order, size, complex output)
        self.terms: list[list[float]] = [[] for _ in range(self.ratio)]  # per segment r: coefficient per Z part
        order, offset = [], 0
        for c in range(min(self.ratio, self.bins)):
            ks = torch.arange(c, self.bins, self.ratio, dtype=torch.float64)
            weight = torch.where((ks == 0) | (ks == n_fft // 2), 1.0 / n_fft, 2.0 / n_fft)[:, None]
            keep_imag = ((ks != 0) & (ks != n_fft // 2)).double()[:, None]  # irfft ignores these imaginary parts
            phi = 2 * math.pi * torch.outer(ks, n) / n_fft  # [M, hop]
            theta = [2 * math.pi * r * c / self.ratio for r in range(self.ratio)]
            complex_output = any(abs(math.sin(t)) > 1e-9 for t in theta)
            real_part = torch.cat([weight * torch.cos(phi), -weight * keep_imag * torch.sin(phi)])  # [2M, hop]
            basis = real_part
            if complex_output:
                imag_part = torch.cat([weight * torch.sin(phi), weight * keep_imag * torch.cos(phi)])
                basis = torch.cat([real_part, imag_part], dim=1)
            self.register_buffer(f"basis{c}", basis.float())
            for r, t in enumerate(theta):
                self.terms[r] += [math.cos(t)] + ([-math.sin(t)] if complex_output else [])
            self.classes.append((offset, len(ks), complex_output))
            order.append(ks.long())
            offset += len(ks)
        order = torch.cat(order)
        self.proj = nn.Linear(head.proj.in_features, head.proj.out_features)
        rows = torch.cat([order, order + self.bins])
        self.proj.weight.data = head.proj.weight.detach()[rows].clone()
        self.proj.bias.data = head.proj.bias.detach()[rows].clone()
        self.register_buffer("segments", head.window.reshape(self.ratio, hop).clone())
        self.register_buffer("window_sq", head.window.square())

    def forward(self, x: torch.Tensor, frame_lengths: torch.Tensor | None) -> torch.Tensor:
        if self.streaming_state is not None:
            return self.step(x)
        num_frames = x.shape[1]
        if frame_lengths is None:
            frame_lengths = torch.full((x.shape[0],), num_frames, dtype=torch.long, device=x.device)
        present = length_mask(frame_lengths, num_frames).to(x.dtype)[..., None]  # [B, F, 1]
        audio = self.overlap_added(x, present)
        envelope = overlap_add(present * self.window_sq, self.ratio, self.hop)
        audio = audio / envelope.clamp(min=1e-5)
        return audio[:, None, self.trim_left : self.trim_left + num_frames * self.hop]

    def overlap_added(self, x: torch.Tensor, present: torch.Tensor | None) -> torch.Tensor:
        """Features [B, F, dim] -> windowed frames overlap-added, not normalised: [B, (F + ratio - 1) * hop]."""
        y = self.proj(x)
        mag = _masked(torch.exp(y[..., : self.bins].clamp(max=6.0)), present)
        phase = y[..., self.bins :]
        real, imag = mag * torch.cos(phase), mag * torch.sin(phase)
        parts = []
        for c, (offset, size, complex_output) in enumerate(self.classes):
            spectrum = torch.cat([real[..., offset : offset + size], imag[..., offset : offset + size]], dim=-1)
            z = spectrum @ getattr(self, f"basis{c}")
            parts += [z[..., : self.hop], z[..., self.hop :]] if complex_output else [z]
        audio = None
        for r in range(self.ratio):  # segment r of every frame, windowed, placed r blocks later
            segment = _combine(self.terms[r], parts) * self.segments[r]
            segment = nn.functional.pad(segment, (0, 0, r, self.ratio - 1 - r))
            audio = segment if audio is None else audio + segment
        assert audio is not None, "ratio >= 1"
        return audio.reshape(y.shape[0], -1)

    def step(self, x: torch.Tensor) -> torch.Tensor:
        """Streaming: features [B, n, dim] -> the n * hop stream samples now complete [B, 1, n * hop] (as ISTFTHead)."""
        state, keep, held = self.streaming_state, x.shape[1] * self.hop, self.trim_left
        audio = self.overlap_added(x, None)
        envelope = overlap_add(self.window_sq.expand(1, x.shape[1], -1), self.ratio, self.hop)[0]
        audio = torch.cat([audio[:, :held] + state.audio, audio[:, held:]], dim=-1)
        envelope = torch.cat([envelope[:held] + state.envelope, envelope[held:]])
        state.audio, state.envelope = audio[:, keep:], envelope[keep:]
        out = audio[:, :keep] / envelope[:keep].clamp(min=1e-5)
        warm = (torch.arange(keep) + state.emitted) >= held
        state.emitted = (state.emitted + keep).clamp(max=held)
        return (out * warm.to(out.dtype))[:, None]

    def flush(self) -> torch.Tensor:
        """End of stream: the last n_fft - hop samples [B, 1, n_fft - hop] still in the buffer."""
        state = self.streaming_state
        return (state.audio / state.envelope.clamp(min=1e-5))[:, None]

    def init_state(self, batch_size: int) -> StepOverlapAdd:
        """An empty overlap-add buffer, nothing emitted."""
        held = (self.ratio - 1) * self.hop
        if self.trim_left != held:
            raise ValueError("only the causal iSTFT head can stream")
        return StepOverlapAdd(
            torch.zeros(batch_size, held, device=self.state_device()),
            torch.zeros(held, device=self.state_device()),
            torch.zeros((), dtype=torch.long, device=self.state_device()),
        )


class ExportVocoderDecoder(nn.Module):
    """VocoderDecoder on channel-last latents [B, F, D] with the block iSTFT head."""

    def __init__(self, decoder: VocoderDecoder) -> None:
        super().__init__()
        self.backbone = ChannelLastStack(decoder.backbone)
        self.head = BlockISTFTHead(decoder.head)

    def forward(self, latent: torch.Tensor, frame_lengths: torch.Tensor | None) -> torch.Tensor:
        mask = None
        if frame_lengths is not None:
            mask = length_mask(frame_lengths, latent.shape[1])[..., None].to(latent.dtype)
        return self.head(self.backbone(latent, mask), frame_lengths)

    def flush(self) -> torch.Tensor:
        """Streaming: the held-back last samples [B, 1, lookahead]."""
        return self.head.flush()


class FoldedRVQ(nn.Module):
    """Residual quantizer inference: per level project_in, squared-distance argmin, folded codebook lookup."""

    w_in: torch.Tensor
    b_in: torch.Tensor
    codebooks: torch.Tensor
    codebook_sq: torch.Tensor
    tables: torch.Tensor

    def __init__(self, quantizer: ResidualQuantizer) -> None:
        super().__init__()
        if not isinstance(quantizer, ResidualQuantizer):
            raise ValueError(f"ONNX export supports the rvq quantizer, not {type(quantizer).__name__}")
        quantizer.check_initialised()
        # nn.ModuleList yields plain Modules in torch's stubs; these hold VectorQuantize and Linear layers
        levels = cast("list[VectorQuantize]", list(quantizer.levels))
        project_in = cast("list[nn.Linear]", list(quantizer.project_in))
        codebooks = [level.codebook.detach().float() for level in levels]
        self.codebook_size = codebooks[0].shape[0]
        self.register_buffer("w_in", torch.stack([p.weight.detach() for p in project_in]))  # [K, d, D]
        self.register_buffer("b_in", torch.stack([p.bias.detach() for p in project_in]))  # [K, d]
        self.register_buffer("codebooks", torch.stack(codebooks))  # [K, C, d]
        self.register_buffer("codebook_sq", torch.stack([(c**2).sum(-1) for c in codebooks]))  # [K, C]
        with torch.no_grad():  # each level's output projection applied to its whole codebook
            tables = [p(c) for p, c in zip(quantizer.project_out, codebooks)]
        self.register_buffer("tables", torch.cat(tables))  # [K * C, D]

    def encode(self, latent: torch.Tensor) -> torch.Tensor:
        """Channel-last latent [B, F, D] -> codes int64 [B, K, F] (the same argmin as the torch quantizer)."""
        residual = latent
        codes = []
        for k in range(self.w_in.shape[0]):
            z = residual @ self.w_in[k].t() + self.b_in[k]
            dist = (z * z).sum(-1, keepdim=True) + self.codebook_sq[k] - 2 * (z @ self.codebooks[k].t())
            idx = dist.argmin(-1)
            residual = residual - nn.functional.embedding(idx + k * self.codebook_size, self.tables)
            codes.append(idx)
        return torch.stack(codes, dim=1)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes [B, k, F] (any prefix of levels) -> channel-last quantized latent [B, F, D]."""
        offsets = torch.arange(codes.shape[1], device=codes.device)[None, :, None] * self.codebook_size
        return nn.functional.embedding(codes + offsets, self.tables).sum(1)


def inference_copy(model: Codec) -> Codec:
    """A fresh copy of the codec with weight norm and ConvNeXt layer scales folded (same outputs).

    Not copy.deepcopy: a deep copy shares the parametrized module classes with the original, and
    removing the parametrization from the copy would break the original.
    """
    from torch.nn.utils import parametrize

    state = dict(model.state_dict())
    for name, sub in model.named_modules():
        if parametrize.is_parametrized(sub, "weight"):
            prefix = f"{name}.parametrizations.weight."
            state = {k: v for k, v in state.items() if not k.startswith(prefix)}
            state[f"{name}.weight"] = cast(torch.Tensor, sub.weight).detach()
    copy = type(model)(model.cfg, model_id=model.model_id)
    fold_weight_norm(copy)
    copy.load_state_dict(state, strict=True)
    copy = copy.float().eval()
    with torch.no_grad():
        for block in copy.modules():
            if isinstance(block, ConvNeXtBlock):
                block.pwconv2.weight.mul_(block.gamma[:, None])
                block.pwconv2.bias.mul_(block.gamma)
                block.gamma.fill_(1.0)
    return copy


class EncodeGraph(nn.Module):
    """Audio [B, 1, T] + lengths [B] -> (codes int64 [B, K, F], frame lengths [B]), F = ceil(T / frame_size)."""

    def __init__(self, model: Codec) -> None:
        super().__init__()
        model = inference_copy(model)
        self.hop = model.frame_size
        self.channel_last = isinstance(model.encoder, FrameEncoder)  # the rewritten kind; others trace as they are
        self.encoder = ExportFrameEncoder(model.encoder) if self.channel_last else model.encoder
        self.quantizer = FoldedRVQ(model.quantizer)

    def forward(self, audio: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        num_frames = (audio.shape[-1] + self.hop - 1) // self.hop
        audio = nn.functional.pad(audio, (0, num_frames * self.hop - audio.shape[-1]))
        audio = audio * length_mask(lengths, audio.shape[-1])[:, None, :].to(audio.dtype)
        frame_lengths = (lengths + self.hop - 1) // self.hop
        latent = self.encoder(audio, frame_lengths)
        codes = self.quantizer.encode(latent if self.channel_last else latent.transpose(1, 2))
        return codes * length_mask(frame_lengths, codes.shape[-1])[:, None, :].long(), frame_lengths

    def step(self, audio: torch.Tensor) -> torch.Tensor:
        """Streaming (causal models): audio [B, 1, n * frame_size] -> codes int64 [B, K, n]."""
        latent = self.encoder(audio, None)
        return self.quantizer.encode(latent if self.channel_last else latent.transpose(1, 2))


class DecodeGraph(nn.Module):
    """Codes int64 [B, k, F] + frame lengths [B] -> audio [B, 1, F * frame_size] (trim to the audio lengths)."""

    def __init__(self, model: Codec) -> None:
        super().__init__()
        model = inference_copy(model)
        self.quantizer = FoldedRVQ(model.quantizer)
        if isinstance(model.decoder, HarmonicDecoder):  # its harmonic branch has no export rewrite yet
            raise ValueError("ONNX export supports the vocoder and conv decoders, not HarmonicDecoder")
        self.channel_last = type(model.decoder) is VocoderDecoder  # the rewrite knows its parts, not a subclass's
        self.decoder = ExportVocoderDecoder(model.decoder) if self.channel_last else model.decoder

    def forward(self, codes: torch.Tensor, frame_lengths: torch.Tensor) -> torch.Tensor:
        quantized = self.quantizer.decode(codes)
        return self.decoder(quantized if self.channel_last else quantized.transpose(1, 2), frame_lengths)

    def step(self, codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Streaming (causal models): codes [B, k, n] -> (audio [B, 1, n * frame_size], the tail that ending
        the stream now would give [B, 1, lookahead])."""
        quantized = self.quantizer.decode(codes)
        audio = self.decoder(quantized if self.channel_last else quantized.transpose(1, 2), None)
        return audio, self.decoder.flush()
