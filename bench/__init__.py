"""Reproducible measurements behind the decision records in docs/decisions/."""
