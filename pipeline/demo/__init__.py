"""The demo: a real sample corpus and the one-process ``memvec demo`` job.

:mod:`.corpus` yields the standard library's module documentation as documents (no
download); :mod:`.ingest` loads it into an engine through the real pipeline, the way tests
and benchmarks need a store "as the demo leaves it"; :mod:`.job` is ``memvec demo``. Both
write index :data:`INDEX` from objects in bucket :data:`BUCKET`.
"""

from ..defaults import DEFAULT_INDEX

INDEX = DEFAULT_INDEX
BUCKET = "stdlib"
