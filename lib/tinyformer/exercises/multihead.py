"""exercises for notebook topic: multihead."""

__all__: list[str] = []
