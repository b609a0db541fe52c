"""Process settings numpy's OpenBLAS reads once, when numpy loads it: imported first by
:mod:`store` and by :mod:`pipeline` (whose package imports numpy before the store, and
which ``memvec server`` runs through), before anything that imports numpy.

``OPENBLAS_THREAD_TIMEOUT=4`` (unless the environment already sets it): an OpenBLAS
worker thread goes to sleep almost at once after a threaded product instead of spinning
for OpenBLAS's default 2^28 cycles (~0.1 s). Until decision 0034 a FLAT scan was an
OpenBLAS product threaded on every core; with the default, the spinning worker held a core
after each scan, and on a 2-core machine the next request's thread or its client then
waited a scheduler slice: FLAT KNN at 20k vectors, 1 client, had 12-16 ms replies in half
of 400-query passes (p99 up to 9.9 ms; the peer's 2.0 ms). With the setting, no pass had
one above 3.2 ms, at the same p50 (decision 0021). Waking a sleeping worker costs
microseconds against a scan's milliseconds. FLAT scans now run their own threads
(:mod:`store.index.flat_scan`), which end with the scan; the setting stays for any threaded
BLAS product numpy still makes in the process.

Has no effect if numpy was imported before (the library is then loaded):
``tests/store/test_blas_env.py`` checks the import order of both packages.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")
