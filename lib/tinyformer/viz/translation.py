"""viz for notebook topic: translation."""

__all__: list[str] = []
