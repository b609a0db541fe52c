"""``python -m bench``: run the benchmarks (the same as ``memvec bench``)."""

import sys

from .cli import main

sys.exit(main())
