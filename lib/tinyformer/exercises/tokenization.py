"""exercises for notebook topic: tokenization."""

__all__: list[str] = []
