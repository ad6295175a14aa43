"""Neural building blocks: masked (optionally causal) convs, ConvNeXt, STFT framing and inverse STFT."""
