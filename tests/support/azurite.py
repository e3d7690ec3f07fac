"""Start and stop Azurite (the Azure Blob emulator from npm) on a free loopback port."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BINARY = ROOT / "node_modules" / ".bin" / "azurite-blob"
# The emulator's documented, public development key (not a secret).
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def connection_string(port: int) -> str:
    """Connection string of an Azurite blob endpoint on ``port``."""
    return (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
        f"AccountKey={ACCOUNT_KEY};BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1;"
    )


@contextlib.contextmanager
def azurite(in_memory: bool = True) -> Iterator[str]:
    """Run Azurite for the duration of the block; yields its connection string."""
    if not BINARY.exists():
        raise RuntimeError(f"Azurite is not installed ({BINARY}); run `npm ci` (make test does)")
    port = free_port()
    location = tempfile.mkdtemp(prefix="azurite-")  # also where Azurite writes its debug/extent files
    args = [str(BINARY), "--blobHost", "127.0.0.1", "--blobPort", str(port), "--skipApiVersionCheck",
            "--disableTelemetry", "--silent"]
    args += ["--inMemoryPersistence"] if in_memory else ["--location", location]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            if process.poll() is not None:
                raise RuntimeError("Azurite exited at start")
            time.sleep(0.1)
        else:
            raise RuntimeError("Azurite did not start within 20 s")
        yield connection_string(port)
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(location, ignore_errors=True)
