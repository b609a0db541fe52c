"""Helpers of the stream type (:mod:`store.datatypes.streams`)."""
