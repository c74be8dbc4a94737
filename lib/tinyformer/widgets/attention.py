"""widgets for notebook topic: attention."""

__all__: list[str] = []
