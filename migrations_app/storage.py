"""Where backups live: one object store API (obstore) over a local directory (`file:///…`) and any
S3-compatible bucket (`s3://bucket/prefix`), chosen by MIGRATION_BACKUP_URL.

A backup is addressed by its *location*, a URL naming a prefix in the store
(`s3://bucket/prefix/run-3/000-<namespace>`), and its files by a name under it. The database
stores the location, never a local path, so every worker host reaches the same backup: verify,
rollback, erasure and expiry work wherever they run. S3 endpoint, region and credentials come
from the usual AWS variables (AWS_ENDPOINT_URL, AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY), read by obstore itself.

Writes are streamed: a local file is written beside its name and renamed when closed, an S3
object is a multipart upload completed when closed; neither is visible before.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

import obstore
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from obstore.store import LocalStore, S3Store

if TYPE_CHECKING:
    from obstore import ReadableFile, WritableFile

SCHEMES = ("file", "s3")
# What a writer holds in memory per open object before it goes to the store (the client keeps
# the written buffers until then): one multipart part for S3 (5 MiB is its minimum part size),
# far less for a local file, which takes parts of any size.
PART_BYTES = 5 * 1024 * 1024
LOCAL_PART_BYTES = 64 * 1024


class StorageError(Exception):
    """The store refused or failed an operation (unreachable, denied, not a valid location)."""


@dataclass(frozen=True)
class Location:
    """A backup's prefix in a store: `scheme://bucket/key` (file: the bucket is empty)."""

    scheme: str
    bucket: str
    key: str  # no leading or trailing slash

    @classmethod
    def parse(cls, value: str | Path | Location) -> Location:
        """A URL, or a bare local path (rows written before backups had locations)."""
        if isinstance(value, Location):
            return value
        text = str(value)
        # A URL that went through pathlib lost a slash ("s3:/bucket/x"): a transitional caller.
        text = re.sub(r"^s3:/(?!/)", "s3://", text)
        text = re.sub(r"^file:/(?!/)", "file:///", text)
        if "://" not in text:
            return cls("file", "", str(Path(text).resolve()).strip("/"))
        parts = urlsplit(text)
        if parts.scheme not in SCHEMES:
            raise StorageError(f"{text}: backups live at file:// or s3:// URLs")
        if parts.scheme == "s3":
            if not parts.netloc:
                raise StorageError(f"{text}: an s3:// URL names a bucket")
            return cls("s3", parts.netloc, unquote(parts.path).strip("/"))
        return cls("file", "", unquote(parts.path).strip("/"))

    @property
    def url(self) -> str:
        if self.scheme == "file":
            return "file:///" + quote(self.key)
        return f"s3://{self.bucket}/{quote(self.key)}"

    def __str__(self) -> str:
        return self.url

    def child(self, *names: str) -> Location:
        key = "/".join([self.key, *(n.strip("/") for n in names)]).strip("/")
        return Location(self.scheme, self.bucket, key)

    def object_key(self, name: str) -> str:
        return f"{self.key}/{name}" if self.key else name

    @property
    def local_path(self) -> Path | None:
        """The directory on this host (file locations only)."""
        return Path("/" + self.key) if self.scheme == "file" else None


def root() -> Location:
    """MIGRATION_BACKUP_URL, or MIGRATION_BACKUP_DIR as a file URL (the default, under var/)."""
    url = str(getattr(settings, "MIGRATION_BACKUP_URL", "") or "")
    if not url:
        return Location.parse(Path(settings.MIGRATION_BACKUP_DIR))
    try:
        return Location.parse(url)
    except StorageError as exc:
        raise ImproperlyConfigured(f"MIGRATION_BACKUP_URL: {exc}") from None


def _s3_options() -> dict[str, Any]:
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "")
    options: dict[str, Any] = {}
    if endpoint:
        options["endpoint"] = endpoint
    region = os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION")
    if region:
        options["region"] = region
    return options


@lru_cache(maxsize=16)
def _store(scheme: str, bucket: str, endpoint: str) -> Any:
    if scheme == "file":
        return LocalStore("/")
    # Path-style requests: what MinIO, Ceph and moto serve without wildcard DNS.
    return S3Store(
        bucket,
        # Completing a multipart upload of a large backup can take a while on the server side;
        # a client that gave up and retried would find the upload gone (NoSuchUpload).
        client_options={"allow_http": endpoint.startswith("http://"), "timeout": "300s"},
        virtual_hosted_style_request=False,
        **_s3_options(),
    )


def store_for(location: Location) -> Any:
    return _store(location.scheme, location.bucket, os.environ.get("AWS_ENDPOINT_URL", ""))


def _errors(location: Location, name: str, exc: Exception) -> StorageError:
    return StorageError(f"{location.object_key(name)} at {location.scheme}://{location.bucket}: {exc}")


def open_writer(location: Location, name: str) -> WritableFile:
    try:
        part = LOCAL_PART_BYTES if location.scheme == "file" else PART_BYTES
        # Two parts in flight at most: what the upload holds stays bounded whatever the object.
        return obstore.open_writer(
            store_for(location), location.object_key(name), buffer_size=part, max_concurrency=2
        )
    except (OSError, obstore.exceptions.BaseError) as exc:
        raise _errors(location, name, exc) from exc


def open_reader(location: Location, name: str) -> ReadableFile:
    try:
        return obstore.open_reader(store_for(location), location.object_key(name))
    except FileNotFoundError:
        raise
    except (OSError, obstore.exceptions.BaseError) as exc:
        raise _errors(location, name, exc) from exc


def get_range(location: Location, name: str, start: int, end: int) -> bytes:
    try:
        return bytes(obstore.get_range(store_for(location), location.object_key(name), start=start, end=end))
    except FileNotFoundError:
        raise
    except (OSError, obstore.exceptions.BaseError) as exc:
        raise _errors(location, name, exc) from exc


def put(location: Location, name: str, data: bytes) -> None:
    try:
        obstore.put(store_for(location), location.object_key(name), data)
    except (OSError, obstore.exceptions.BaseError) as exc:
        raise _errors(location, name, exc) from exc


def get(location: Location, name: str) -> bytes:
    """A small object whole (a manifest); FileNotFoundError when absent."""
    try:
        return bytes(obstore.get(store_for(location), location.object_key(name)).bytes())
    except FileNotFoundError:
        raise
    except (OSError, obstore.exceptions.BaseError) as exc:
        raise _errors(location, name, exc) from exc


def iter_chunks(location: Location, name: str) -> Iterator[bytes]:
    """An object's bytes as a stream of chunks (hashing it never holds it whole)."""
    try:
        for chunk in obstore.get(store_for(location), location.object_key(name)).stream(
            min_chunk_size=LOCAL_PART_BYTES
        ):
            yield bytes(chunk)
    except FileNotFoundError:
        raise
    except (OSError, obstore.exceptions.BaseError) as exc:
        raise _errors(location, name, exc) from exc


def objects(location: Location) -> dict[str, int]:
    """Every object under the location: name (relative) -> size in bytes."""
    prefix = location.key + "/" if location.key else ""
    if location.scheme == "file":
        directory = location.local_path
        if directory is None or not directory.is_dir():
            return {}
    found: dict[str, int] = {}
    try:
        for chunk in obstore.list(store_for(location), prefix=prefix or None):
            for meta in chunk:
                found[meta["path"][len(prefix) :]] = int(meta["size"])
    except FileNotFoundError:
        return {}
    except (OSError, obstore.exceptions.BaseError) as exc:
        raise _errors(location, "", exc) from exc
    return found


def delete_all(location: Location) -> int:
    """Delete every object under the location; returns how many there were. A file location's
    directory goes too (with anything a writer left half-written in it)."""
    names = objects(location)
    if names:
        try:
            obstore.delete(store_for(location), [location.object_key(n) for n in names])
        except (OSError, obstore.exceptions.BaseError) as exc:
            raise _errors(location, "", exc) from exc
    directory = location.local_path
    if directory is not None and directory.exists():
        shutil.rmtree(directory)
    return len(names)


def location_of(value: str | Path | Location) -> Location:
    """A location from what a caller holds: a URL, or a local path. A path under
    MIGRATION_BACKUP_DIR names the same place under MIGRATION_BACKUP_URL when that is set (the
    pipeline names a backup by its run and item, relative to the backups' root)."""
    location = Location.parse(value)
    base = root()
    local = Location.parse(Path(settings.MIGRATION_BACKUP_DIR))
    if location.scheme == "file" and base != local and (location.key + "/").startswith(local.key + "/"):
        return base.child(location.key[len(local.key) :])
    return location


def size(location: Location, name: str) -> int:
    try:
        return int(obstore.head(store_for(location), location.object_key(name))["size"])
    except FileNotFoundError:
        raise
    except (OSError, obstore.exceptions.BaseError) as exc:
        raise _errors(location, name, exc) from exc


def stores_reset() -> None:
    """Forget the store clients (they keep the AWS_* environment they were made with)."""
    _store.cache_clear()
