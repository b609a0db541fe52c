"""Secondary indexes of the store: vector indexes (``vector``, ``flat``, ``hnsw``) and the
other field indexes an FT index keeps. Import from the submodules; the store's public names
are re-exported by ``store/__init__.py``."""
