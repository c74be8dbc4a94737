"""viz for notebook topic: blocks."""

__all__: list[str] = []
