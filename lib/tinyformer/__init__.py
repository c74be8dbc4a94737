"""tinyformer: a transformer built from scratch, one component per notebook."""

__version__ = "0.1.0"
