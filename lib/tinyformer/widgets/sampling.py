"""widgets for notebook topic: sampling."""

__all__: list[str] = []
