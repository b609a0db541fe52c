"""Both container images can build the runtime dependencies that publish no wheels.

hnswlib and python-lzf are sdists on PyPI: pip compiles them wherever memvec is installed.
``python:3.11-slim`` (the Dockerfile's build stage) and the Lambda base image carry no
compiler, so each image must install one before its ``pip install``. Which dependencies
were compiled is read from this environment's own install: a wheel pip built locally
carries the bare ``linux_<arch>`` platform tag, one from PyPI a ``manylinux``/``musllinux``
or ``any`` tag.
"""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from pipeline.packaging import _CONTAINER_DOCKERFILE, runtime_requirements

REPO = Path(__file__).resolve().parents[1]
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def compiled_here() -> list[str]:
    """Runtime requirements whose installed wheel pip built on this machine."""
    out = []
    for requirement in runtime_requirements():
        match = _NAME.match(requirement)
        assert match is not None, requirement
        try:
            wheel = distribution(match.group(1)).read_text("WHEEL") or ""
        except PackageNotFoundError:
            continue  # a marker excluded it here (another platform or Python)
        tags = [line.split(":", 1)[1].strip() for line in wheel.splitlines()
                if line.startswith("Tag:")]  # fmt: skip
        if tags and all(re.search(r"-linux_[a-z0-9_]+$", tag) for tag in tags):
            out.append(match.group(1))
    return out


def compiler_before_pip(dockerfile: str, installs_compiler: str) -> bool:
    """Whether ``installs_compiler`` comes before the first ``pip install`` of the file."""
    compiler, pip = dockerfile.find(installs_compiler), dockerfile.find("pip install")
    return 0 <= compiler < pip


def test_the_sdist_dependencies_are_known() -> None:
    # the two the images' comments name; a new one shows up here first
    assert {"hnswlib", "python-lzf"} <= set(compiled_here())


def test_the_server_image_build_stage_installs_a_compiler() -> None:
    build_stage = (REPO / "Dockerfile").read_text().split("\nFROM ")[1]
    assert build_stage.splitlines()[0].endswith(" AS build")
    assert compiler_before_pip(
        build_stage, "apt-get install -y --no-install-recommends build-essential"
    )


def test_the_lambda_image_installs_a_compiler() -> None:
    assert compiler_before_pip(_CONTAINER_DOCKERFILE, "yum install -y gcc gcc-c++")
    # and does not ship it
    assert "yum remove -y gcc gcc-c++" in _CONTAINER_DOCKERFILE
