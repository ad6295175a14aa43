"""Where checkpoints come from: the registry, resolving and downloading sources, release directories."""
