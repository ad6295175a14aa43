"""Training data: manifests, random crops, deterministic per-step sampling."""
