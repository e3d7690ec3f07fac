"""Blob storage: one BlobStore interface, a local-folder implementation (default) and Azure Blob."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import tempfile
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from services.core.errors import BadInput, Conflict, StorageUnavailable


@dataclass(frozen=True)
class BlobInfo:
    """What a listing says about one blob."""

    name: str
    size: int
    etag: str
    last_modified: datetime


class BlobNotFound(BadInput):
    """No blob under that name."""


class BlobStore(ABC):
    """A flat namespace of containers holding named blobs, with ETags for optimistic concurrency.

    ``put`` with ``if_match`` fails with Conflict unless the blob's current ETag matches; with
    ``if_none_match=True`` it fails with Conflict when the blob already exists (create-only). ``delete``
    with ``if_match`` fails with Conflict unless the blob exists with that ETag (delete-if-match): together
    they make a blob a lock that any process of any replica can take and release by compare-and-set.
    """

    kind: str = ""

    @abstractmethod
    def put(
        self, container: str, name: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False
    ) -> str:
        """Write ``data`` whole (readers see the old or the new content, never a mix); return the ETag."""

    @abstractmethod
    def get(self, container: str, name: str) -> tuple[bytes, str]:
        """Content and ETag of a blob; BlobNotFound when absent."""

    @abstractmethod
    def info(self, container: str, name: str) -> BlobInfo | None:
        """Properties of one blob, or None when absent."""

    @abstractmethod
    def list(self, container: str, prefix: str = "") -> list[BlobInfo]:
        """Every blob whose name starts with ``prefix``, sorted by name."""

    @abstractmethod
    def delete(self, container: str, name: str, *, if_match: str | None = None) -> None:
        """Remove a blob; absent blobs are ignored unless ``if_match`` is given (then Conflict)."""

    @abstractmethod
    def copy(self, container: str, source: str, target: str) -> str:
        """Copy a blob within a container; return the new ETag."""

    @abstractmethod
    def ping(self) -> None:
        """Raise StorageUnavailable when the store cannot be reached."""

    def describe(self) -> str:
        """Where the blobs live, without secrets."""
        return self.kind


def check_blob_name(name: str) -> str:
    """Refuse names that could escape the container (absolute paths, '..', backslashes, empty parts)."""
    path = PurePosixPath(name)
    if not name or name.startswith("/") or "\\" in name or any(p in ("", ".", "..") for p in name.split("/")):
        raise BadInput(f"invalid blob name '{name}'")
    return str(path)


class LocalBlobStore(BlobStore):
    """Blobs as files under ``root/<container>/<name>``; writes go to a temp file then ``os.replace``.

    Conditional writes and deletes of one blob take turns on a lock file beside it (``.<name>.lock``,
    ``flock``), so check-and-replace is one step for every process on the host; create-only is a hard link
    of the finished temp file, so nobody ever reads a half-written new blob.
    """

    kind = "local folder"

    def __init__(self, root: Path):
        self.root = Path(root)

    def describe(self) -> str:
        """The folder path."""
        return f"local folder {self.root.resolve()}"

    def _path(self, container: str, name: str) -> Path:
        return self.root / check_blob_name(container) / check_blob_name(name)

    @staticmethod
    def _etag(stat: os.stat_result) -> str:
        # a new inode on every replace, so (inode, size, mtime) changes whenever the content does
        return f'"{stat.st_ino:x}-{stat.st_size:x}-{stat.st_mtime_ns:x}"'

    def put(
        self, container: str, name: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False
    ) -> str:
        """Atomic write through a temp file in the same folder."""
        path = self._path(container, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.chmod(tmp, 0o644)
            if if_none_match:
                try:
                    os.link(tmp, path)  # atomic create-if-absent, with the content already in place
                except FileExistsError:
                    raise Conflict(f"blob '{name}' already exists") from None
                return self._etag(path.stat())
            with self._conditional(path, if_match is not None):
                if if_match is not None:
                    current = self.info(container, name)
                    if current is None or current.etag != if_match:
                        raise Conflict(f"blob '{name}' changed since it was read")
                os.replace(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        return self._etag(path.stat())

    @staticmethod
    @contextlib.contextmanager
    def _conditional(path: Path, wanted: bool):
        """Hold the blob's lock file for a compare-and-set (a no-op for unconditional writes)."""
        if not wanted:
            yield
            return
        with open(path.parent / f".{path.name}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def get(self, container: str, name: str) -> tuple[bytes, str]:
        """Read a file and its ETag (taken from the same open file, so they agree)."""
        path = self._path(container, name)
        try:
            with open(path, "rb") as handle:
                etag = self._etag(os.fstat(handle.fileno()))
                return handle.read(), etag
        except FileNotFoundError:
            raise BlobNotFound(f"no blob '{name}' in '{container}'") from None

    def info(self, container: str, name: str) -> BlobInfo | None:
        """Stat one file."""
        path = self._path(container, name)
        try:
            stat = path.stat()
        except FileNotFoundError:
            return None
        return BlobInfo(name, stat.st_size, self._etag(stat), datetime.fromtimestamp(stat.st_mtime, UTC))

    def list(self, container: str, prefix: str = "") -> list[BlobInfo]:
        """Walk the container folder, skipping temp files of writes in progress."""
        base = self.root / check_blob_name(container)
        if not base.exists():
            return []
        found = []
        for dirpath, _dirs, files in os.walk(base):
            for filename in files:
                if filename.startswith(".") and filename.endswith((".tmp", ".lock")):
                    continue
                full = Path(dirpath) / filename
                name = full.relative_to(base).as_posix()
                if name.startswith(prefix):
                    stat = full.stat()
                    found.append(
                        BlobInfo(name, stat.st_size, self._etag(stat), datetime.fromtimestamp(stat.st_mtime, UTC))
                    )
        return sorted(found, key=lambda b: b.name)

    def delete(self, container: str, name: str, *, if_match: str | None = None) -> None:
        """Unlink the file if present (with ``if_match``: only if it is there with that ETag, else Conflict)."""
        path = self._path(container, name)
        if if_match is None:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            return
        with self._conditional(path, True):
            current = self.info(container, name)
            if current is None or current.etag != if_match:
                raise Conflict(f"blob '{name}' changed since it was read")
            path.unlink()

    def copy(self, container: str, source: str, target: str) -> str:
        """Copy through an atomic put."""
        data, _ = self.get(container, source)
        return self.put(container, target, data)

    def ping(self) -> None:
        """The folder must be writable."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / ".ping"
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError as error:
            raise StorageUnavailable(f"local blob folder {self.root} is not writable: {error}") from None


class AzureBlobStore(BlobStore):
    """Azure Blob Storage (or Azurite) through ``azure-storage-blob``; containers are created on demand."""

    kind = "Azure Blob"

    def __init__(self, connection_string: str | None = None, account_url: str | None = None, timeout_s: int = 30):
        from azure.storage.blob import BlobServiceClient

        # the SDK reads response bodies in 4 KiB blocks by default: 1 MiB blocks halve a partition's download time
        options = {"connection_timeout": 5, "read_timeout": timeout_s, "connection_data_block_size": 1024 * 1024}
        if connection_string:
            self._service = BlobServiceClient.from_connection_string(connection_string, **options)
        elif account_url:
            from azure.identity import DefaultAzureCredential

            self._service = BlobServiceClient(account_url, credential=DefaultAzureCredential(), **options)
        else:
            raise BadInput("AzureBlobStore needs AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_ACCOUNT_URL")

    def describe(self) -> str:
        """Account URL (never the key)."""
        return f"Azure Blob {self._service.url}"

    def _container(self, container: str):
        return self._service.get_container_client(container)

    def _blob(self, container: str, name: str):
        return self._service.get_blob_client(container, check_blob_name(name))

    def _create_container(self, container: str) -> None:
        from azure.core.exceptions import ResourceExistsError

        with self._errors(container), contextlib.suppress(ResourceExistsError):
            self._container(container).create_container()

    @contextlib.contextmanager
    def _errors(self, what: str):
        from azure.core.exceptions import (
            ResourceModifiedError,
            ServiceRequestError,
            ServiceResponseError,
        )

        try:
            yield
        except ResourceModifiedError:
            raise Conflict(f"blob '{what}' changed since it was read") from None
        except (ServiceRequestError, ServiceResponseError) as error:
            raise StorageUnavailable(f"Azure Blob unreachable ({type(error).__name__})") from None

    def put(
        self, container: str, name: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False
    ) -> str:
        """Upload as one block blob (committed whole)."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError

        kwargs: dict = {"overwrite": not if_none_match, "max_concurrency": 4}
        if if_match is not None:
            kwargs.update(etag=if_match, match_condition=MatchConditions.IfNotModified)
        blob = self._blob(container, name)
        for attempt in range(2):
            try:
                with self._errors(name):
                    result = blob.upload_blob(data, **kwargs)
                break
            except ResourceExistsError:
                raise Conflict(f"blob '{name}' already exists") from None
            except ResourceNotFoundError as error:
                if attempt or getattr(error, "error_code", "") != "ContainerNotFound":
                    raise Conflict(f"blob '{name}' changed since it was read") from None
                self._create_container(container)  # created on first write, never on reads
        return result["etag"]

    def get(self, container: str, name: str) -> tuple[bytes, str]:
        """Download a blob; parallel ranges for large ones."""
        from azure.core.exceptions import ResourceNotFoundError

        blob = self._blob(container, name)
        try:
            with self._errors(name):
                downloader = blob.download_blob(max_concurrency=2)
                return downloader.readall(), downloader.properties.etag
        except ResourceNotFoundError:
            raise BlobNotFound(f"no blob '{name}' in '{container}'") from None

    def info(self, container: str, name: str) -> BlobInfo | None:
        """Blob properties, or None."""
        from azure.core.exceptions import ResourceNotFoundError

        blob = self._blob(container, name)
        try:
            with self._errors(name):
                props = blob.get_blob_properties()
        except ResourceNotFoundError:
            return None
        return BlobInfo(name, props.size, props.etag, props.last_modified)

    def list(self, container: str, prefix: str = "") -> list[BlobInfo]:
        """List by prefix (server-side)."""
        from azure.core.exceptions import ResourceNotFoundError

        client = self._container(container)
        try:
            with self._errors(container):
                items = [
                    BlobInfo(b.name, b.size, b.etag, b.last_modified)
                    for b in client.list_blobs(name_starts_with=prefix or None)
                ]
        except ResourceNotFoundError:
            return []  # the container does not exist yet
        return sorted(items, key=lambda b: b.name)

    def delete(self, container: str, name: str, *, if_match: str | None = None) -> None:
        """Delete, ignoring absent blobs (with ``if_match``: only that version of it, else Conflict)."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceNotFoundError

        if if_match is None:
            with contextlib.suppress(ResourceNotFoundError), self._errors(name):
                self._blob(container, name).delete_blob()
            return
        try:
            with self._errors(name):
                self._blob(container, name).delete_blob(etag=if_match, match_condition=MatchConditions.IfNotModified)
        except ResourceNotFoundError:
            raise Conflict(f"blob '{name}' changed since it was read") from None

    def copy(self, container: str, source: str, target: str) -> str:
        """Copy by download and upload (server-side copy is asynchronous on Azure)."""
        data, _ = self.get(container, source)
        return self.put(container, target, data)

    def ping(self) -> None:
        """List containers with a short timeout."""
        with self._errors("account"):
            next(iter(self._service.list_containers(results_per_page=1)), None)


def open_blob_store(settings) -> BlobStore:
    """The store the settings point at: Azure Blob when configured, else the local folder."""
    if settings.uses_azure_blob:
        conn = settings.azure_storage_connection_string
        return AzureBlobStore(
            connection_string=conn.get_secret_value() if conn else None,
            account_url=settings.azure_storage_account_url,
        )
    return LocalBlobStore(settings.blob_root)


def sha256_hex(data: bytes) -> str:
    """Checksum recorded per partition in manifests."""
    return hashlib.sha256(data).hexdigest()
