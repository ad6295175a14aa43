"""Models: encoders, decoders and the codec that joins them through the quantizer."""
