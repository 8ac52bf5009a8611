"""Backups in vector-io's VDF layout: a manifest `VDF_META.json` and the namespace's vectors as
Parquet under `<index>/<namespace>/`, in the backup store (migrations_app/storage.py: a local
directory or an S3-compatible bucket).

Columns: `id` (string), `vector` (fixed-size list of float32: bit-exact; of size 0 in a
sparse-only index), `metadata` (the vector's metadata as canonical JSON, null when it has none),
`sparse_indices` (list of uint32) and `sparse_values` (list of float32), both null for a vector
without a sparse part (vector-io's sparse columns), and `checksum` (the per-vector digest, which
covers the sparse part). Backups written before sparse columns existed read as dense-only. One
row group per written batch, so a copy can resume at any row-group boundary and readers hold one
group in memory at a time.

The Parquet stream is encrypted with the creator's data key (migrations_app/backup_crypto.py:
AES-256-GCM in authenticated 64 KiB segments) into `i1.parquet.enc` as it is written, so it is
never whole in memory nor in plaintext anywhere. Beside it, `digests.parquet.enc` (same key,
its own stream context) holds only the `id` and `checksum` columns, in row groups of up to
DIGEST_GROUP_ROWS rows: about 70 bytes a vector, so verification reads a few MB in a few requests
instead of picking two columns out of the large object (each ranged read of which costs an S3
request). Backups written before it existed read those columns from the data file. The manifest
is written last, and a backup
without one is incomplete (never readable, still deleted by `remove_backup_files`); it records
each object's size and SHA-256, checked before a restore uses the data, and the content checksum
that restores are verified against. Backups from before encryption (plain `i1.parquet`, written
into `<dir>.partial` and renamed) still read.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from migrations_app import backup_crypto, backup_keys, checksums, storage
from migrations_app.storage import Location
from twinadmin.vectors import DEFAULT_NAMESPACE, Vector
from twinadmin.vectors.types import SparseValues

MANIFEST = "VDF_META.json"
DATA_FILE = "i1.parquet"
DIGESTS_FILE = "digests.parquet"
# Rows per row group of the digests object: ids and digests are buffered (as Arrow arrays, about
# 70 bytes a row: 1.1 MB) until a group is full, and a reader holds one group (a few copies of it
# while it is decrypted): 100k vectors are 7 groups, 14 reads. 65,536 rows measured 25-50 MB more
# peak RSS in the pipeline at 100k (three readers at once in verify) for no faster a verify.
DIGEST_GROUP_ROWS = 16_384
_SLICE_ROWS = 1_000
ENCRYPTED_SUFFIX = ".enc"
VDF_VERSION = "0.1.0"
PARTIAL_SUFFIX = ".partial"
_VDF_METRICS = {"cosine": "Cosine", "euclidean": "Euclid", "dotproduct": "Dot"}


class BackupCorrupt(Exception):
    """The files do not hold what the manifest says (or there is no manifest)."""


class BackupUnreadable(BackupCorrupt):
    """The backup cannot be decrypted: its creator's data key was destroyed (or never existed),
    or the KEK that wraps it is missing."""


BackupLocation = str | Path | Location


def vector_type(dimension: int) -> pa.DataType:
    # Non-nullable all the way down: Parquet then stores no definition levels for the floats,
    # which makes reading a row group about four times faster.
    return pa.list_(pa.field("item", pa.float32(), nullable=False), dimension)


def schema(dimension: int) -> pa.Schema:
    return pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),
            pa.field("vector", vector_type(dimension), nullable=False),
            pa.field("metadata", pa.string()),
            pa.field("sparse_indices", SPARSE_INDICES),
            pa.field("sparse_values", SPARSE_VALUES),
            pa.field("checksum", pa.binary(checksums.DIGEST_BYTES), nullable=False),
        ]
    )


def digests_schema() -> pa.Schema:
    return pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),
            pa.field("checksum", pa.binary(checksums.DIGEST_BYTES), nullable=False),
        ]
    )


SPARSE_INDICES = pa.list_(pa.field("item", pa.uint32(), nullable=False))
SPARSE_VALUES = pa.list_(pa.field("item", pa.float32(), nullable=False))


def _sparse_column(vectors: list[Vector], part: str, kind: pa.DataType) -> pa.Array:
    """One sparse column (indices or values) of a batch: a list per vector, null without one."""
    return pa.array(
        [None if v.sparse_values is None else getattr(v.sparse_values, part) for v in vectors], type=kind
    )


def data_dir(index_name: str, namespace: str) -> str:
    return f"{index_name}/{namespace}"


@dataclass(frozen=True)
class Batch:
    vectors: list[Vector]
    digests: list[bytes]
    metadata: list[str | None]  # canonical JSON per vector
    offset: int = 0  # row number of the first vector in the file (when read from one)


def hashed(vectors: list[Vector]) -> Batch:
    """Vectors with their canonical metadata and digests (the CPU part of a backup batch)."""
    metadata = [checksums.canonical_metadata(v.metadata) for v in vectors]
    digests = [
        checksums.digest(v.id, v.values, m, v.sparse_values) for v, m in zip(vectors, metadata, strict=True)
    ]
    return Batch(vectors=vectors, digests=digests, metadata=metadata)


@dataclass(frozen=True)
class WrittenBackup:
    location: Location
    count: int
    checksum: str
    size_bytes: int


class BackupWriter:
    """Stream batches of vectors into a new backup at `location`, encrypted with the data key of
    `extra["creator_id"]`; visible (a manifest) only once `close()` has written everything."""

    def __init__(
        self,
        location: BackupLocation,
        *,
        namespace: str,
        dimension: int,
        metric: str,
        index_name: str,
        extra: dict[str, Any] | None = None,
        digest_group_rows: int = DIGEST_GROUP_ROWS,
    ) -> None:
        self.location = storage.location_of(location)
        self.digest_group_rows = digest_group_rows
        self.namespace = namespace
        self.dimension = dimension
        self.metric = metric
        self.index_name = index_name
        self.extra = extra or {}
        self.creator_id = str(self.extra.get("creator_id") or "")
        if not self.creator_id:
            raise ValueError("a backup is encrypted for its creator: extra['creator_id'] is required")
        self.checksum = checksums.NamespaceChecksum()
        self._vector_type = vector_type(dimension)
        key = backup_keys.data_key_for_writing(creator_id=self.creator_id)
        self._key_fingerprint = backup_crypto.key_fingerprint(key)
        remove_backup_files(self.location)  # a retry starts from nothing
        self.backup_id = uuid.uuid4().hex
        self._relative_data = f"{data_dir(index_name, namespace)}/{DATA_FILE}{ENCRYPTED_SUFFIX}"
        self._stored, self._plain = self._open_encrypted(self._relative_data, key)
        self._relative_digests = f"{DIGESTS_FILE}{ENCRYPTED_SUFFIX}"
        self._digests_stored, self._digests_plain = self._open_encrypted(self._relative_digests, key)
        self._digests_writer = pq.ParquetWriter(
            self._digests_plain,
            digests_schema(),
            compression={"id": "lz4", "checksum": "none"},
            use_dictionary=False,
            write_statistics=False,
        )
        self._pending: list[pa.Table] = []  # the digests object's next row group
        self._pending_rows = 0
        self._writer = pq.ParquetWriter(
            self._plain,
            schema(dimension),
            # Float noise does not compress; ids and metadata text do, and lz4 costs a third of
            # zstd's time for about the same size on this data.
            compression={
                "id": "lz4",
                "metadata": "lz4",
                "vector": "none",
                "sparse_indices": "lz4",
                "sparse_values": "none",
                "checksum": "none",
            },
            use_dictionary=False,
            write_statistics=["id"],
        )

    def _open_encrypted(
        self, name: str, key: bytes
    ) -> tuple[backup_crypto.HashingWriter, backup_crypto.EncryptingWriter]:
        stored = backup_crypto.HashingWriter(storage.open_writer(self.location, name))
        plain = backup_crypto.EncryptingWriter(
            stored, key=key, context=backup_crypto.stream_context(self.backup_id, name)
        )
        return stored, plain

    def _flush_digests(self) -> None:
        if self._pending:
            table = pa.concat_tables(self._pending)
            rows = max(self.digest_group_rows, table.num_rows)  # one row group
            self._digests_writer.write_table(table, row_group_size=rows)
        self._pending, self._pending_rows = [], 0

    def write(self, batch: Batch | list[Vector]) -> None:
        """Append one row group (a Batch carries digests computed elsewhere, e.g. on a pool)."""
        if not isinstance(batch, Batch):
            batch = hashed(batch)
        vectors, metadata, digests = batch.vectors, batch.metadata, batch.digests
        if not vectors:
            return
        values = np.stack([v.values for v in vectors]).astype(np.float32, copy=False)
        table = pa.table(
            {
                "id": pa.array([v.id for v in vectors], type=pa.string()),
                "vector": pa.FixedSizeListArray.from_arrays(pa.array(values.ravel()), type=self._vector_type),
                "metadata": pa.array(metadata, type=pa.string()),
                "sparse_indices": _sparse_column(vectors, "indices", SPARSE_INDICES),
                "sparse_values": _sparse_column(vectors, "values", SPARSE_VALUES),
                "checksum": pa.array(digests, type=pa.binary(checksums.DIGEST_BYTES)),
            },
            schema=schema(self.dimension),
        )
        self._writer.write_table(table, row_group_size=len(vectors))
        # The same Arrow arrays (no copy): the digests object's rows.
        self._pending.append(table.select(["id", "checksum"]))
        self._pending_rows += len(vectors)
        if self._pending_rows >= self.digest_group_rows:
            self._flush_digests()
        self.checksum.add_all(digests)

    def abort(self) -> None:
        """Give up: the data object is never completed (an S3 multipart upload is dropped, a
        local file never renamed into place) and whatever was written goes."""
        self._stored.discard = True  # the Parquet footers that close() writes go nowhere
        self._digests_stored.discard = True
        self._pending = []
        for writer in (self._writer, self._digests_writer):
            with contextlib.suppress(OSError, pa.ArrowException, storage.StorageError):
                writer.close()
        # A store that refuses the deletion too: the row stays never-restorable, and erasure
        # and expiry delete what is left later.
        with contextlib.suppress(storage.StorageError):
            remove_backup_files(self.location)

    def close(self) -> WrittenBackup:
        self._flush_digests()
        self._digests_writer.close()
        self._digests_plain.close()
        self._writer.close()
        self._plain.close()  # the final segment; completes the object
        data = {"size": self._stored.size, "sha256": self._stored.hash.hexdigest()}
        digests = {"size": self._digests_stored.size, "sha256": self._digests_stored.hash.hexdigest()}
        manifest = {
            # vector-io's VDF_META.json fields
            "version": VDF_VERSION,
            # vector-io's files; the digests object is twinadmin's own (under "objects")
            "file_structure": [self._relative_data, MANIFEST],
            "author": "twinadmin",
            "exported_from": "pinecone",
            "indexes": {
                self.index_name: [
                    {
                        # Pinecone's vector APIs name the default namespace "".
                        "namespace": "" if self.namespace == DEFAULT_NAMESPACE else self.namespace,
                        "total_vector_count": self.checksum.count,
                        "exported_vector_count": self.checksum.count,
                        "dimensions": self.dimension,
                        "model_name": "",
                        "vector_columns": ["vector"],
                        "sparse_columns": ["sparse_indices", "sparse_values"],
                        "data_path": data_dir(self.index_name, self.namespace),
                        "metric": _VDF_METRICS.get(self.metric, self.metric),
                        "metadata_columns": ["metadata"],
                    }
                ]
            },
            "exported_at": datetime.now(UTC).isoformat(),
            "id_column": "id",
            # what a restore is verified against
            "namespace": self.namespace,
            "dimension": self.dimension,
            "metric": self.metric,
            "count": self.checksum.count,
            "checksum_algorithm": checksums.ALGORITHM,
            "checksum": self.checksum.hexdigest(),
            "objects": {self._relative_data: data, self._relative_digests: digests},
            # ids and per-vector digests alone, what verification reads
            "digests": self._relative_digests,
            "encryption": {
                "algorithm": backup_crypto.ALGORITHM,
                "creator_id": self.creator_id,
                "backup_id": self.backup_id,
                "key": self._key_fingerprint,
                "segment_bytes": backup_crypto.SEGMENT_BYTES,
            },
            "twinadmin": self.extra,
        }
        raw = json.dumps(manifest, indent=2, sort_keys=True).encode()
        storage.put(self.location, MANIFEST, raw)  # last: the backup is complete from here on
        return WrittenBackup(
            location=self.location,
            count=self.checksum.count,
            checksum=self.checksum.hexdigest(),
            size_bytes=self._stored.size + self._digests_stored.size + len(raw),
        )


def partial_path(path: Path) -> Path:
    """Where backups written before the object store were staged (`<dir>.partial`)."""
    return path.with_name(path.name + PARTIAL_SUFFIX)


def remove_backup_files(location: BackupLocation) -> int:
    """Delete every object of the backup (complete or not), and a legacy partial directory;
    returns how many objects were deleted. Deleting a deleted backup deletes nothing."""
    where = storage.location_of(location)
    removed = storage.delete_all(where)
    local = where.local_path
    if local is not None and partial_path(local).exists():
        removed += sum(1 for f in partial_path(local).rglob("*") if f.is_file())
        shutil.rmtree(partial_path(local))
    return removed


def directory_size(location: BackupLocation) -> int:
    return sum(storage.objects(storage.location_of(location)).values())


def read_manifest(location: BackupLocation) -> dict[str, Any]:
    where = storage.location_of(location)
    try:
        manifest = json.loads(storage.get(where, MANIFEST))
    except FileNotFoundError:
        raise BackupCorrupt(f"{where} has no {MANIFEST} (never completed, or deleted)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BackupCorrupt(f"{where}/{MANIFEST} is not valid JSON: {exc}") from None
    if not isinstance(manifest, dict):
        raise BackupCorrupt(f"{where}/{MANIFEST} is not a manifest")
    return manifest


def _data_name(where: Location, manifest: dict[str, Any]) -> str:
    digests = manifest.get("digests")
    structure = [p for p in manifest.get("file_structure", []) if ".parquet" in p and p != digests]
    if len(structure) != 1:
        raise BackupCorrupt(f"{where}: expected one Parquet file in the manifest, found {structure}")
    return str(structure[0])


def _open_data(
    where: Location,
    manifest: dict[str, Any],
    *,
    fresh_key: bool = False,
    name: str | None = None,
    pre_buffer: bool = False,
) -> pq.ParquetFile:
    """The backup's Parquet file (or its object `name`), decrypted as it is read (`fresh_key`:
    the key's row is read again, never a remembered key: what decides that a backup may be
    restored). `pre_buffer`: a row group's column chunks are read in one request (a whole-group
    reader's choice; one per column otherwise)."""
    name = name or _data_name(where, manifest)
    encryption = manifest.get("encryption")
    try:
        if not encryption:  # a backup from before encryption
            legacy = pa.PythonFile(storage.open_reader(where, name), mode="r")
            return pq.ParquetFile(legacy, pre_buffer=pre_buffer)
        try:
            key = backup_keys.data_key_for_reading(
                creator_id=str(encryption["creator_id"]),
                fingerprint=str(encryption.get("key", "")),
                fresh=fresh_key,
            )
        except (backup_keys.DataKeyDestroyed, backup_keys.DataKeyMissing, backup_crypto.KekError) as exc:
            raise BackupUnreadable(f"{where}: {exc}") from None
        reader = backup_crypto.DecryptingReader(
            lambda start, end: storage.get_range(where, name, start, end),
            storage.size(where, name),
            key=key,
            context=backup_crypto.stream_context(str(encryption["backup_id"]), name),
        )
        return pq.ParquetFile(pa.PythonFile(reader, mode="r"), pre_buffer=pre_buffer)
    except FileNotFoundError:
        raise BackupCorrupt(f"{where}: {name} is missing") from None
    except (backup_crypto.DecryptionFailed, pa.ArrowException, storage.StorageError) as exc:
        raise BackupCorrupt(f"{where}: cannot read {name}: {exc}") from exc


def row_count(location: BackupLocation) -> int:
    where = storage.location_of(location)
    return _open_data(where, read_manifest(where)).metadata.num_rows


def read_table(location: BackupLocation) -> pa.Table:
    """The whole backup as one Arrow table (small backups: inspection and tests)."""
    where = storage.location_of(location)
    return _open_data(where, read_manifest(where)).read(use_threads=False)


def iter_batches(location: BackupLocation, *, start: int = 0, fresh_key: bool = False) -> Iterator[Batch]:
    """The backup's rows from row `start` on, one row group at a time."""
    where = storage.location_of(location)
    manifest = read_manifest(where)
    dimension = int(manifest["dimension"])
    # Restores read every column of every group in order: one request per row group.
    parquet = _open_data(where, manifest, fresh_key=fresh_key, pre_buffer=True)
    offset = 0
    for group in range(parquet.num_row_groups):
        rows = parquet.metadata.row_group(group).num_rows
        if offset + rows <= start:
            offset += rows
            continue
        # One thread: arrow's pool threads each keep an allocator heap (+50 MB RSS measured),
        # and the decode of one group is not what a copy waits on.
        table = _read_group(where, parquet, group)
        skip = max(0, start - offset)
        if skip:
            table = table.slice(skip)
        ids = table.column("id").to_pylist()
        flat = table.column("vector").combine_chunks().flatten().to_numpy()
        values = flat.reshape(len(ids), dimension) if ids else np.empty((0, dimension), np.float32)
        metadata = table.column("metadata").to_pylist()
        digests = table.column("checksum").to_pylist()
        sparse = _read_sparse(table, len(ids))
        vectors = [
            Vector(vector_id, values[i], json.loads(meta) if meta is not None else None, sparse[i])
            for i, (vector_id, meta) in enumerate(zip(ids, metadata, strict=True))
        ]
        yield Batch(vectors=vectors, digests=digests, metadata=metadata, offset=offset + skip)
        offset += rows


def _read_group(where: Location, parquet: pq.ParquetFile, group: int, **options: Any) -> pa.Table:
    """One row group; a segment that does not authenticate or a store error is BackupCorrupt."""
    try:
        return parquet.read_row_group(group, use_threads=False, **options)
    except (backup_crypto.DecryptionFailed, pa.ArrowException, storage.StorageError, OSError) as exc:
        raise BackupCorrupt(f"{where}: cannot read row group {group}: {exc}") from exc


def _read_sparse(table: pa.Table, rows: int) -> list[SparseValues | None]:
    """The sparse part of each row (None without one, or in a backup from before sparse columns)."""
    if "sparse_indices" not in table.column_names:
        return [None] * rows
    indices = table.column("sparse_indices").combine_chunks()
    weights = table.column("sparse_values").combine_chunks()
    out: list[SparseValues | None] = []
    for i in range(rows):
        if not indices[i].is_valid:
            out.append(None)
            continue
        out.append(
            SparseValues(
                indices[i].values.to_numpy(zero_copy_only=False),
                weights[i].values.to_numpy(zero_copy_only=False).astype(np.float32),
            )
        )
    return out


def _id_digest_groups(where: Location, manifest: dict[str, Any], columns: list[str]) -> Iterator[pa.Table]:
    """The `columns` (of id, checksum) one row group at a time, from the digests object (the
    data file for a backup written without one)."""
    name = manifest.get("digests") or None
    parquet = _open_data(where, manifest, name=str(name) if name else None, pre_buffer=True)
    for group in range(parquet.num_row_groups):
        # A group holds up to DIGEST_GROUP_ROWS rows; as Python objects they would be ten times
        # their Arrow size, so callers get them in slices.
        table = _read_group(where, parquet, group, columns=columns)
        for start in range(0, table.num_rows, _SLICE_ROWS):
            yield table.slice(start, _SLICE_ROWS)


def iter_digests(location: BackupLocation) -> Iterator[bytes]:
    """Only the per-vector digests (the checksum column), one row group at a time."""
    where = storage.location_of(location)
    for table in _id_digest_groups(where, read_manifest(where), ["checksum"]):
        yield from table.column("checksum").to_pylist()


def iter_id_digests(location: BackupLocation) -> Iterator[tuple[list[str], list[bytes]]]:
    """(ids, digests) per row group: what verification compares a target with, without the
    values."""
    where = storage.location_of(location)
    for table in _id_digest_groups(where, read_manifest(where), ["id", "checksum"]):
        yield table.column("id").to_pylist(), table.column("checksum").to_pylist()


def _iter_pairs(where: Location, manifest: dict[str, Any]) -> Iterator[tuple[str, bytes]]:
    for table in _id_digest_groups(where, manifest, ["id", "checksum"]):
        yield from zip(table.column("id").to_pylist(), table.column("checksum").to_pylist(), strict=True)


@dataclass(frozen=True)
class FileCheck:
    ok: bool
    count: int
    checksum: str
    expected_count: int
    expected_checksum: str
    problem: str = ""


def objects_problem(location: BackupLocation) -> str:
    """Each object's size and SHA-256 against the manifest (streamed): "" when all agree."""
    where = storage.location_of(location)
    manifest = read_manifest(where)
    for name, expected in sorted((manifest.get("objects") or {}).items()):
        digest, size = hashlib.sha256(), 0
        try:
            for chunk in storage.iter_chunks(where, name):
                digest.update(chunk)
                size += len(chunk)
        except FileNotFoundError:
            return f"{name} is missing"
        if size != expected.get("size") or digest.hexdigest() != expected.get("sha256"):
            return f"{name} does not match its SHA-256 in the manifest (altered or damaged in storage)"
    return ""


def verify_files(location: BackupLocation) -> FileCheck:
    """Check each object against its SHA-256 in the manifest, then re-hash every row from its
    id, values and metadata and compare with the manifest: proves the backup would restore
    exactly what was backed up (a flipped bit anywhere shows). A backup that can no longer be
    decrypted (its creator's key destroyed) does not verify, and says why."""
    where = storage.location_of(location)
    manifest = read_manifest(where)
    expected_count, expected = int(manifest.get("count", -1)), str(manifest.get("checksum", ""))
    total = checksums.NamespaceChecksum()
    stored_mismatch = listed_mismatch = 0
    problem = objects_problem(where)
    if not problem:
        try:
            # The digests object, row by row beside the data: what verification reads agrees.
            listed = _iter_pairs(where, manifest) if manifest.get("digests") else None
            for batch in iter_batches(where, fresh_key=True):
                for vector, stored in zip(batch.vectors, batch.digests, strict=True):
                    computed = checksums.vector_digest(vector)
                    stored_mismatch += computed != stored
                    if listed is not None:
                        listed_mismatch += next(listed, None) != (vector.id, stored)
                    total.add(computed)
            if listed is not None:
                listed_mismatch += sum(1 for _ in listed)
        except BackupCorrupt as exc:  # cannot be decrypted, or a segment does not authenticate
            problem = str(exc)
        except (OSError, pa.ArrowException, ValueError) as exc:
            raise BackupCorrupt(f"{where}: cannot read the Parquet data: {exc}") from exc
    if problem:
        pass
    elif stored_mismatch:
        problem = f"{stored_mismatch} rows do not match their stored checksum"
    elif listed_mismatch:
        problem = f"{listed_mismatch} rows of {manifest.get('digests')} differ from the data file's"
    elif total.count != expected_count:
        problem = f"{total.count} rows, the manifest says {expected_count}"
    elif total.hexdigest() != expected:
        problem = "content checksum differs from the manifest"
    return FileCheck(
        ok=not problem,
        count=total.count,
        checksum=total.hexdigest(),
        expected_count=expected_count,
        expected_checksum=expected,
        problem=problem,
    )
