"""Drawing functions: each makes a static matplotlib figure (also the fallback of a widget).

Each notebook topic has its own module; everything is re-exported here. Importing this package
applies the "notebook" figure style (>= 100 dpi, text >= 10 pt); `use_style("lecture")` is for a
projector (see style.py)."""

from .style import *  # noqa: F401,F403
from .course_map import *  # noqa: F401,F403
from .tokenization import *  # noqa: F401,F403
from .embeddings import *  # noqa: F401,F403
from .attention import *  # noqa: F401,F403
from .masking import *  # noqa: F401,F403
from .multihead import *  # noqa: F401,F403
from .blocks import *  # noqa: F401,F403
from .translation import *  # noqa: F401,F403
from .sampling import *  # noqa: F401,F403

use_style("notebook")
