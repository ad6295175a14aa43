"""Training: config, loop, checkpoints, distributed setup, logging."""
