"""Defaults every command shares, so ``memvec ingest`` then ``memvec api`` meet.

One name per setting: the ingest job, the worker, the Lambda handler, the API and the demo
all take their index name from :data:`DEFAULT_INDEX` unless told otherwise.
"""

DEFAULT_INDEX = "memvec"
"""The index every command writes and reads when ``--index``/``MEMVEC_INDEX`` is not given."""
