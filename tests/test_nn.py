"""nn/ blocks: exact lengths, causality, masking (padding never leaks), streaming state on and off."""

from __future__ import annotations

import pytest
import torch

from codec.nn.conv import Conv1d, ConvTranspose1d, ResidualUnit, Snake, activation
from codec.nn.convnext import ConvNeXtStack
from codec.nn.masks import apply_mask, length_mask
from codec.nn.stft import FrameSTFT, ISTFTHead, check_frame_fft
from codec.nn.streaming import set_streaming, streaming_modules


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_length_mask_and_apply_mask():
    mask = length_mask(torch.tensor([0, 2, 4]), 3)
    assert mask.tolist() == [[False] * 3, [True, True, False], [True] * 3]
    x = torch.ones(2, 1, 4)
    assert apply_mask(x, torch.tensor([1, 3])).sum().item() == 4 and apply_mask(x, None) is x


def test_snake_and_activation_names():
    snake = Snake(2)
    x = torch.linspace(-2, 2, 8).reshape(1, 2, 4)
    torch.testing.assert_close(snake(x), x + torch.sin(x) ** 2 / (1 + 1e-9))
    assert isinstance(activation("elu", 3), torch.nn.ELU)
    with pytest.raises(ValueError, match="snake' or 'elu'"):
        activation("relu", 3)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("kernel,stride,dilation", [(7, 1, 1), (7, 1, 3), (8, 4, 1), (3, 1, 1)])
def test_conv1d_keeps_exact_lengths_and_causality(causal, kernel, stride, dilation):
    torch.manual_seed(0)
    conv = Conv1d(2, 3, kernel, stride, dilation, causal=causal)
    x = torch.randn(1, 2, 40, generator=seeded())
    y = conv(x)
    assert y.shape == (1, 3, 40 // stride)
    changed = x.clone()
    changed[..., 20:] += 1.0
    same = (conv(changed) - y).abs()[..., : 20 // stride].max()
    assert (same == 0) if causal else (same > 0 or kernel <= stride)


@pytest.mark.parametrize("causal", [False, True])
def test_conv_transpose_upsamples_exactly(causal):
    torch.manual_seed(0)
    up = ConvTranspose1d(2, 3, 4, causal=causal)
    x = torch.randn(1, 2, 10, generator=seeded())
    assert up(x).shape == (1, 3, 40)
    if causal:
        changed = x.clone()
        changed[..., 6:] += 1.0
        assert torch.equal(up(changed)[..., :24], up(x)[..., :24])


@pytest.mark.parametrize("causal", [False, True])
def test_streaming_conv_stack_equals_offline(causal):
    torch.manual_seed(0)
    stack = torch.nn.Sequential(
        Conv1d(1, 4, 7, causal=True), ResidualUnit(4, 3, "snake", True), Conv1d(4, 2, 8, 4, causal=True)
    )
    x = torch.randn(2, 1, 64, generator=seeded())
    with torch.no_grad():
        offline = stack(x)
        set_streaming(stack, 2)
        chunks = [stack(x[..., a:b]) for a, b in ((0, 8), (8, 40), (40, 64))]
        set_streaming(stack, None)
    torch.testing.assert_close(torch.cat(chunks, dim=-1), offline, atol=1e-6, rtol=0)
    assert all(m.streaming_state is None for m in streaming_modules(stack))


def test_non_causal_blocks_refuse_to_stream():
    with pytest.raises(ValueError, match="only causal"):
        set_streaming(Conv1d(1, 1, 7, causal=False), 1)


@pytest.mark.parametrize("causal", [False, True])
def test_convnext_stack_masks_padding(causal):
    torch.manual_seed(0)
    stack = ConvNeXtStack(3, 8, 16, 2, causal).eval()
    alone = torch.randn(1, 3, 6, generator=seeded())
    padded = torch.cat([alone, torch.randn(1, 3, 4, generator=seeded(1))], dim=-1)
    batch = torch.cat([padded, torch.randn(1, 3, 10, generator=seeded(2))])
    with torch.no_grad():
        out = stack(batch, torch.tensor([6, 10]))
        ref = stack(alone, torch.tensor([6]))
    torch.testing.assert_close(out[:1, :, :6], ref, atol=1e-5, rtol=0)
    assert out[0, :, 6:].abs().max() == 0


@pytest.mark.parametrize("causal", [False, True])
def test_stft_and_istft_frame_alignment(causal):
    stft = FrameSTFT(64, 16, causal)
    audio = torch.randn(2, 1, 160, generator=seeded())
    spec = stft(audio)
    assert spec.shape == (2, 33, 10) and spec.is_complex()
    head = ISTFTHead(8, 64, 16, causal)
    features = torch.randn(2, 8, 10, generator=seeded(1))
    with torch.no_grad():
        out = head(features, torch.tensor([10, 6]))
        alone = head(features[1:, :, :6], torch.tensor([6]))
    assert out.shape == (2, 1, 160)
    torch.testing.assert_close(out[1:, :, :96], alone, atol=1e-5, rtol=0)
    assert head.lookahead == 48


def test_frame_fft_check():
    check_frame_fft(640, 320, "x")
    for n_fft in (300, 641):
        with pytest.raises(ValueError, match="x: n_fft"):
            check_frame_fft(n_fft, 320, "x")
