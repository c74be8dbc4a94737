"""exercises for notebook topic: embeddings."""

__all__: list[str] = []
