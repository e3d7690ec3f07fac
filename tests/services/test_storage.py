"""One contract for every BlobStore: the local folder and Azure Blob (against Azurite)."""

from __future__ import annotations

import pytest

from services.core.errors import BadInput, Conflict
from services.core.storage import AzureBlobStore, BlobNotFound, BlobStore, LocalBlobStore


@pytest.fixture(params=["local", "azure"])
def store(request, tmp_path) -> BlobStore:
    if request.param == "local":
        return LocalBlobStore(tmp_path / "blob")
    return AzureBlobStore(connection_string=request.getfixturevalue("azurite_connection_string"))


@pytest.fixture
def container(request) -> str:
    return f"c{abs(hash(request.node.name)) % 10**8}"


def test_put_get_roundtrip_and_etag_changes(store, container):
    first = store.put(container, "a/b/2024.csv", b"one")
    data, etag = store.get(container, "a/b/2024.csv")
    assert (data, etag) == (b"one", first)
    second = store.put(container, "a/b/2024.csv", b"two")
    assert second != first
    assert store.info(container, "a/b/2024.csv").etag == second


def test_missing_blob(store, container):
    with pytest.raises(BlobNotFound):
        store.get(container, "nope.csv")
    assert store.info(container, "nope.csv") is None
    store.delete(container, "nope.csv")  # absent is fine


def test_list_by_prefix_sorted(store, container):
    for name in ("x/2.csv", "x/1.csv", "y/1.csv"):
        store.put(container, name, b"1")
    assert [b.name for b in store.list(container, "x/")] == ["x/1.csv", "x/2.csv"]
    assert {b.name for b in store.list(container)} == {"x/1.csv", "x/2.csv", "y/1.csv"}
    assert all(b.size == 1 for b in store.list(container))


def test_if_match_is_compare_and_set(store, container):
    etag = store.put(container, "m.json", b"v1")
    store.put(container, "m.json", b"v2", if_match=etag)
    with pytest.raises(Conflict):
        store.put(container, "m.json", b"v3", if_match=etag)
    assert store.get(container, "m.json")[0] == b"v2"


def test_create_only(store, container):
    store.put(container, "lock", b"me", if_none_match=True)
    with pytest.raises(Conflict):
        store.put(container, "lock", b"you", if_none_match=True)
    assert store.get(container, "lock")[0] == b"me"


def test_copy_and_delete(store, container):
    store.put(container, "src.csv", b"data")
    store.copy(container, "src.csv", "dst.csv")
    assert store.get(container, "dst.csv")[0] == b"data"
    store.delete(container, "src.csv")
    assert store.info(container, "src.csv") is None


def test_delete_if_match_removes_only_the_version_it_names(store, container):
    first = store.put(container, "journal.json", b"mine", if_none_match=True)
    second = store.put(container, "journal.json", b"taken over", if_match=first)
    with pytest.raises(Conflict):
        store.delete(container, "journal.json", if_match=first)  # a stale holder cannot remove the new one
    assert store.get(container, "journal.json")[0] == b"taken over"
    store.delete(container, "journal.json", if_match=second)
    assert store.info(container, "journal.json") is None
    with pytest.raises(Conflict):
        store.delete(container, "journal.json", if_match=second)  # gone already: someone else released it


def test_create_only_never_shows_a_half_written_blob_and_lock_files_stay_out_of_listings(tmp_path):
    store = LocalBlobStore(tmp_path / "blob")
    etag = store.put("c", "d/j.json", b"x" * 100_000, if_none_match=True)
    store.put("c", "d/j.json", b"y", if_match=etag)
    assert [b.name for b in store.list("c")] == ["d/j.json"]
    assert store.get("c", "d/j.json")[0] == b"y"


@pytest.mark.parametrize("name", ["../escape.csv", "/abs.csv", "a//b.csv", "a\\b.csv", ""])
def test_names_cannot_escape_the_container(store, container, name):
    with pytest.raises(BadInput):
        store.put(container, name, b"x")


def test_ping(store):
    store.ping()
