"""Thin ipywidgets glue: each widget calls pure functions and a `tinyformer.viz` drawing function.

Each notebook topic has its own module; everything is re-exported here."""

from .course_map import *  # noqa: F401,F403
from .tokenization import *  # noqa: F401,F403
from .embeddings import *  # noqa: F401,F403
from .attention import *  # noqa: F401,F403
from .masking import *  # noqa: F401,F403
from .multihead import *  # noqa: F401,F403
from .blocks import *  # noqa: F401,F403
from .translation import *  # noqa: F401,F403
from .sampling import *  # noqa: F401,F403
