"""``python -m pipeline.stack``: the same as ``memvec stack``."""

import sys

from .cli import main

sys.exit(main())
