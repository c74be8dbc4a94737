"""viz for notebook topic: masking."""

__all__: list[str] = []
