"""Export-ready torch modules: the codec's encode (audio -> codes) and decode (codes -> audio) paths
rewritten with ops every ONNX runtime has, computing what the torch model computes.

What changes against the torch model (the arithmetic is the same up to float rounding):
* STFT and inverse STFT (periodic Hann, n_fft a multiple of the hop: every shipped config) are
  block DFT matmuls with the window as a 3-tap convolution over bins (no FFT or fold op, and
  n_fft / hop times fewer multiplies than a DFT matmul per frame);
* the frame-rate stacks run channel-last, their input convs as one matmul over shifted frames;
* the residual quantizer's nearest-neighbour search is the same squared-distance argmin, with each
  level's output projection folded into its codebook (a [codebook_size, latent_dim] table);
* ConvNeXt layer scales are folded into the second pointwise layer, weight norm is folded.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from codec.nn.conv import apply_mask, length_mask
from codec.nn.convnext import ConvNeXtBlock
from codec.nn.stft import FrameSTFT, ISTFTHead
from codec.weights import fold_weight_norm


def _check_stft(n_fft: int, hop: int, window: torch.Tensor, what: str) -> int:
    """n_fft // hop; ValueError unless n_fft is a multiple of hop and the window is the periodic Hann."""
    if n_fft % hop:
        raise ValueError(f"ONNX export needs the {what} n_fft ({n_fft}) to be a multiple of the frame size ({hop})")
    if not torch.allclose(window.float().cpu(), torch.hann_window(n_fft)):
        raise ValueError(f"ONNX export needs the {what} STFT window to be torch.hann_window({n_fft})")
    return n_fft // hop


def _block_dft_basis(n_fft: int, hop: int, bins: int, sign: float) -> torch.Tensor:
    """[hop, 2 * bins]: a hop-sample block @ basis = [real | imag] of its zero-padded n_fft DFT at bins 0..bins-1."""
    angle = 2 * math.pi * torch.outer(torch.arange(hop, dtype=torch.float64), torch.arange(bins, dtype=torch.float64))
    angle = angle / n_fft
    return torch.cat([torch.cos(angle), sign * torch.sin(angle)], dim=1).float()


def _block_rotations(ratio: int, bins: int) -> tuple[torch.Tensor, torch.Tensor]:
    """cos, sin [ratio, bins] of 2 pi r k / ratio: the phase of block r within an n_fft = ratio * hop frame."""
    angle = 2 * math.pi * torch.outer(torch.arange(ratio, dtype=torch.float64), torch.arange(bins, dtype=torch.float64))
    angle = angle / ratio
    return torch.cos(angle).float(), torch.sin(angle).float()


def _hann_smooth(real: torch.Tensor, imag: torch.Tensor, bins: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Spectrum of (frame * periodic Hann) from the frame's spectrum at bins 0..bins (one past the output).

    Hann = 0.5 - 0.25 e^{+i} - 0.25 e^{-i}: a 3-tap convolution over bins; bin -1 is the conjugate of bin 1.
    """
    real_prev = torch.cat([real[..., 1:2], real[..., : bins - 1]], dim=-1)
    imag_prev = torch.cat([-imag[..., 1:2], imag[..., : bins - 1]], dim=-1)
    smooth_real = 0.5 * real[..., :bins] - 0.25 * (real_prev + real[..., 1 : bins + 1])
    smooth_imag = 0.5 * imag[..., :bins] - 0.25 * (imag_prev + imag[..., 1 : bins + 1])
    return smooth_real, smooth_imag


def overlap_add(frames: torch.Tensor, ratio: int, hop: int) -> torch.Tensor:
    """Frames [B, F, ratio * hop] placed every hop samples and summed -> [B, (F + ratio - 1) * hop]."""
    batch, num_frames = frames.shape[0], frames.shape[1]
    blocks = frames.reshape(batch, num_frames, ratio, hop)
    out = None
    for r in range(ratio):
        part = nn.functional.pad(blocks[:, :, r, :], (0, 0, r, ratio - 1 - r))
        out = part if out is None else out + part
    return out.reshape(batch, -1)


class BlockSTFT(nn.Module):
    """FrameSTFT (periodic Hann, n_fft = ratio * hop) -> [B, F, 2 * bins] (real | imag), channel-last.

    Each hop-sample block is transformed once (a [hop, bins + 1] DFT matmul, ratio times fewer
    multiplies than transforming every n_fft frame); a frame's spectrum is the sum of its blocks'
    spectra rotated by their offset, and the window is a 3-tap convolution over bins.
    """

    def __init__(self, stft: FrameSTFT) -> None:
        super().__init__()
        self.hop, self.padding = stft.hop, stft.padding
        self.ratio = _check_stft(stft.n_fft, stft.hop, stft.window, "encoder")
        self.bins = stft.n_fft // 2 + 1
        self.register_buffer("basis", _block_dft_basis(stft.n_fft, stft.hop, self.bins + 1, -1.0))
        cos, sin = _block_rotations(self.ratio, self.bins + 1)
        self.register_buffer("cos", cos)
        self.register_buffer("sin", sin)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        x = nn.functional.pad(audio[:, 0], self.padding)
        y = x.reshape(x.shape[0], -1, self.hop) @ self.basis  # [B, F + ratio - 1, 2 * (bins + 1)]
        a, b = y[..., : self.bins + 1], y[..., self.bins + 1 :]
        num_frames = y.shape[1] - self.ratio + 1
        real = imag = None
        for r in range(self.ratio):  # X_f = sum_r e^{-i 2 pi r k / ratio} B_{f + r}
            ar, br = a[:, r : r + num_frames], b[:, r : r + num_frames]
            re = ar * self.cos[r] + br * self.sin[r]
            im = br * self.cos[r] - ar * self.sin[r]
            real, imag = (re, im) if real is None else (real + re, imag + im)
        real, imag = _hann_smooth(real, imag, self.bins)
        return torch.cat([real, imag], dim=-1)


class ExportFrameEncoder(nn.Module):
    """FrameEncoder with the block STFT and channel-last input/output: -> latent [B, F, D]."""

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.stft = BlockSTFT(encoder.stft)
        self.bins = encoder.stft.n_fft // 2 + 1
        self.backbone = ChannelLastStack(encoder.backbone)
        self.proj = as_linear(encoder.proj)

    def forward(self, audio: torch.Tensor, frame_lengths: torch.Tensor) -> torch.Tensor:
        spec = self.stft(audio)
        real, imag = spec[..., : self.bins], spec[..., self.bins :]
        scale = (torch.sqrt(real * real + imag * imag) + 1e-5).pow(-0.7)  # magnitude ** 0.3, phase kept
        x = torch.cat([real * scale, imag * scale], dim=-1)
        mask = length_mask(frame_lengths, x.shape[1])[..., None].to(x.dtype)
        return self.proj(self.backbone(x, mask)) * mask


def as_linear(conv: nn.Conv1d) -> nn.Linear:
    """A Conv1d (stride 1, no dilation, no groups) as the Linear layer over its `kernel` stacked shifted inputs."""
    out_ch, in_ch, kernel = conv.weight.shape
    linear = nn.Linear(in_ch * kernel, out_ch)
    linear.weight.data = conv.weight.detach().permute(0, 2, 1).reshape(out_ch, kernel * in_ch).clone()
    linear.bias.data = conv.bias.detach().clone()
    return linear


class ChannelLastStack(nn.Module):
    """ConvNeXtStack on [B, F, C] with a float mask [B, F, 1]; the input conv is one matmul over shifted frames."""

    def __init__(self, stack: nn.Module) -> None:
        super().__init__()
        self.embed_padding, self.kernel = stack.embed_padding, stack.embed.kernel_size[0]
        self.embed = as_linear(stack.embed)
        self.norm_in, self.blocks, self.norm_out = stack.norm_in, stack.blocks, stack.norm_out

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = x * mask
        if self.kernel > 1:
            frames = x.shape[1]
            x = nn.functional.pad(x, (0, 0, *self.embed_padding))
            x = torch.cat([x[:, t : t + frames] for t in range(self.kernel)], dim=-1)
        x = (self.norm_in(self.embed(x)) * mask).transpose(1, 2)
        mask_cf = mask.transpose(1, 2)
        for block in self.blocks:
            x = block(x) * mask_cf
        return self.norm_out(x.transpose(1, 2)) * mask


class BlockISTFTHead(nn.Module):
    """ISTFTHead (periodic Hann, n_fft = ratio * hop), offline: features [B, F, dim] -> audio [B, 1, F * hop].

    The window is a 3-tap convolution over bins; each output block of hop samples is the inverse DFT
    (its first hop samples only) of the sum of the ratio frames overlapping it, rotated by their
    offsets: one [bins, hop] matmul per block instead of an n_fft inverse per frame.
    """

    def __init__(self, head: ISTFTHead) -> None:
        super().__init__()
        self.proj, self.hop, self.trim_left = head.proj, head.hop, head.trim_left
        n_fft = head.n_fft
        self.bins = n_fft // 2 + 1
        self.ratio = _check_stft(n_fft, head.hop, head.window, "decoder")
        weight = torch.full((self.bins, 1), 2.0 / n_fft)
        weight[0] = weight[-1] = 1.0 / n_fft  # DC and Nyquist appear once in the full spectrum
        basis = _block_dft_basis(n_fft, head.hop, self.bins, 1.0).t()  # [2 * bins, hop]
        basis = basis * torch.cat([weight, -weight])
        self.register_buffer("basis", basis)
        cos, sin = _block_rotations(self.ratio, self.bins)
        self.register_buffer("cos", cos)
        self.register_buffer("sin", sin)
        keep_imag = torch.ones(self.bins)
        keep_imag[0] = keep_imag[-1] = 0.0  # irfft ignores the imaginary part of DC and Nyquist
        self.register_buffer("keep_imag", keep_imag)
        self.register_buffer("window_sq", head.window.square())

    def forward(self, x: torch.Tensor, frame_lengths: torch.Tensor) -> torch.Tensor:
        y = self.proj(x)
        mag = torch.exp(y[..., : self.bins].clamp(max=6.0))
        phase = y[..., self.bins :]
        num_frames = y.shape[1]
        present = length_mask(frame_lengths, num_frames).to(y.dtype)[..., None]  # [B, F, 1]
        real, imag = mag * torch.cos(phase) * present, mag * torch.sin(phase) * (present * self.keep_imag)
        # bin `bins` (one past Nyquist) is the conjugate of bin bins - 2
        real = torch.cat([real, real[..., self.bins - 2 : self.bins - 1]], dim=-1)
        imag = torch.cat([imag, -imag[..., self.bins - 2 : self.bins - 1]], dim=-1)
        real, imag = _hann_smooth(real, imag, self.bins)
        pad = (0, 0, self.ratio - 1, self.ratio - 1)
        real, imag = nn.functional.pad(real, pad), nn.functional.pad(imag, pad)
        blocks = num_frames + self.ratio - 1
        z_real = z_imag = None
        for r in range(self.ratio):  # Z_j = sum_r e^{+i 2 pi r k / ratio} Y_{j - r}
            start = self.ratio - 1 - r
            ar, br = real[:, start : start + blocks], imag[:, start : start + blocks]
            re = ar * self.cos[r] - br * self.sin[r]
            im = ar * self.sin[r] + br * self.cos[r]
            z_real, z_imag = (re, im) if z_real is None else (z_real + re, z_imag + im)
        audio = (torch.cat([z_real, z_imag], dim=-1) @ self.basis).reshape(y.shape[0], -1)
        envelope = overlap_add(present * self.window_sq, self.ratio, self.hop)
        audio = audio / envelope.clamp(min=1e-5)
        return audio[:, None, self.trim_left : self.trim_left + num_frames * self.hop]


class ExportVocoderDecoder(nn.Module):
    """VocoderDecoder on channel-last latents [B, F, D] with the block iSTFT head."""

    def __init__(self, decoder: nn.Module) -> None:
        super().__init__()
        self.backbone = ChannelLastStack(decoder.backbone)
        self.head = BlockISTFTHead(decoder.head)

    def forward(self, latent: torch.Tensor, frame_lengths: torch.Tensor) -> torch.Tensor:
        mask = length_mask(frame_lengths, latent.shape[1])[..., None].to(latent.dtype)
        return self.head(self.backbone(latent, mask), frame_lengths)


class FoldedRVQ(nn.Module):
    """Residual quantizer inference: per level project_in, squared-distance argmin, folded codebook lookup."""

    def __init__(self, quantizer: nn.Module) -> None:
        super().__init__()
        quantizer.check_initialised()
        codebooks = [level.codebook.detach().float() for level in quantizer.levels]
        self.codebook_size = codebooks[0].shape[0]
        self.register_buffer("w_in", torch.stack([p.weight.detach() for p in quantizer.project_in]))  # [K, d, D]
        self.register_buffer("b_in", torch.stack([p.bias.detach() for p in quantizer.project_in]))  # [K, d]
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


def inference_copy(model: nn.Module) -> nn.Module:
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
            state[f"{name}.weight"] = sub.weight.detach()
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

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        model = inference_copy(model)
        self.hop = model.frame_size
        self.channel_last = hasattr(model.encoder, "stft")
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


class DecodeGraph(nn.Module):
    """Codes int64 [B, k, F] + frame lengths [B] -> audio [B, 1, F * frame_size] (trim to the audio lengths)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        model = inference_copy(model)
        self.quantizer = FoldedRVQ(model.quantizer)
        self.channel_last = isinstance(getattr(model.decoder, "head", None), ISTFTHead)
        self.decoder = ExportVocoderDecoder(model.decoder) if self.channel_last else model.decoder

    def forward(self, codes: torch.Tensor, frame_lengths: torch.Tensor) -> torch.Tensor:
        quantized = self.quantizer.decode(codes)
        return self.decoder(quantized if self.channel_last else quantized.transpose(1, 2), frame_lengths)
