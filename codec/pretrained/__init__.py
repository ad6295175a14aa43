"""Registry of released checkpoints (registry.json) and checkpoints shipped with the package."""
