"""Auto-checked exercises: `from tinyformer.exercises import check_...`.

`core` holds the mechanism; each notebook's checks live in the module named for its topic.
"""

from .core import CheckFailed, expect, expect_close, expect_equal, run_check
from .course_map import *  # noqa: F401,F403
from .tokenization import *  # noqa: F401,F403
from .embeddings import *  # noqa: F401,F403
from .attention import *  # noqa: F401,F403
from .masking import *  # noqa: F401,F403
from .multihead import *  # noqa: F401,F403
from .blocks import *  # noqa: F401,F403
from .translation import *  # noqa: F401,F403
from .sampling import *  # noqa: F401,F403
from .looking_inside import *  # noqa: F401,F403
from .cost_and_scale import *  # noqa: F401,F403
