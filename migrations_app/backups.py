"""Backup files in vector-io's VDF layout: a directory holding `VDF_META.json` and the namespace's
vectors as Parquet under `<index>/<namespace>/`, readable with pyarrow, pandas or vector-io's
`import_vdf`.

Columns: `id` (string), `vector` (fixed-size list of float32: bit-exact; of size 0 in a
sparse-only index), `metadata` (the vector's metadata as canonical JSON, null when it has none),
`sparse_indices` (list of uint32) and `sparse_values` (list of float32), both null for a vector
without a sparse part (vector-io's sparse columns), and `checksum` (the per-vector digest, which
covers the sparse part). Backups written before sparse columns existed read as dense-only. One
row group per written batch, so a copy can resume at any row-group boundary and readers hold one
group in memory at a time.

A backup is written into `<dir>.partial` and renamed once the manifest is on disk, so a
directory without that suffix is always complete; the manifest carries the content checksum that
restores are verified against.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from migrations_app import checksums
from twinadmin.vectors import DEFAULT_NAMESPACE, Vector
from twinadmin.vectors.types import SparseValues

MANIFEST = "VDF_META.json"
DATA_FILE = "i1.parquet"
VDF_VERSION = "0.1.0"
PARTIAL_SUFFIX = ".partial"
_VDF_METRICS = {"cosine": "Cosine", "euclidean": "Euclid", "dotproduct": "Dot"}


class BackupCorrupt(Exception):
    """The files do not hold what the manifest says (or there is no manifest)."""


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
    path: Path
    count: int
    checksum: str
    size_bytes: int


class BackupWriter:
    """Stream batches of vectors into a new backup directory at `path` (via `path.partial`)."""

    def __init__(
        self,
        path: Path,
        *,
        namespace: str,
        dimension: int,
        metric: str,
        index_name: str,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.path = Path(path)
        self.partial = partial_path(self.path)
        self.namespace = namespace
        self.dimension = dimension
        self.metric = metric
        self.index_name = index_name
        self.extra = extra or {}
        self.checksum = checksums.NamespaceChecksum()
        self._vector_type = vector_type(dimension)
        remove_backup_files(self.path)  # a retry starts from nothing
        self._relative_data = f"{data_dir(index_name, namespace)}/{DATA_FILE}"
        data_path = self.partial / self._relative_data
        data_path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = pq.ParquetWriter(
            data_path,
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
        self.checksum.add_all(digests)

    def abort(self) -> None:
        self._writer.close()
        shutil.rmtree(self.partial, ignore_errors=True)

    def close(self) -> WrittenBackup:
        self._writer.close()
        manifest = {
            # vector-io's VDF_META.json fields
            "version": VDF_VERSION,
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
            "twinadmin": self.extra,
        }
        manifest_path = self.partial / MANIFEST
        with manifest_path.open("w", encoding="utf-8") as fh:
            json.dump(manifest, fh, indent=2, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(self.partial, self.path)  # atomic: a directory without .partial is complete
        return WrittenBackup(
            path=self.path,
            count=self.checksum.count,
            checksum=self.checksum.hexdigest(),
            size_bytes=directory_size(self.path),
        )


def partial_path(path: Path) -> Path:
    return path.with_name(path.name + PARTIAL_SUFFIX)


def remove_backup_files(path: Path) -> bool:
    """Remove the backup directory and any partial one; True when something was removed."""
    removed = False
    for candidate in (Path(path), partial_path(Path(path))):
        if candidate.exists():
            shutil.rmtree(candidate)
            removed = True
    return removed


def directory_size(path: Path) -> int:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def read_manifest(path: Path) -> dict[str, Any]:
    try:
        with (Path(path) / MANIFEST).open(encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        raise BackupCorrupt(f"{path} has no {MANIFEST}") from None
    except json.JSONDecodeError as exc:
        raise BackupCorrupt(f"{path}/{MANIFEST} is not valid JSON: {exc}") from None


def _data_file(path: Path, manifest: dict[str, Any]) -> Path:
    structure = [p for p in manifest.get("file_structure", []) if p.endswith(".parquet")]
    if len(structure) != 1:
        raise BackupCorrupt(f"{path}: expected one Parquet file in the manifest, found {structure}")
    return Path(path) / structure[0]


def row_count(path: Path) -> int:
    manifest = read_manifest(path)
    return pq.ParquetFile(_data_file(path, manifest)).metadata.num_rows


def iter_batches(path: Path, *, start: int = 0) -> Iterator[Batch]:
    """The backup's rows from row `start` on, one row group at a time."""
    manifest = read_manifest(path)
    dimension = int(manifest["dimension"])
    parquet = pq.ParquetFile(_data_file(path, manifest))
    offset = 0
    for group in range(parquet.num_row_groups):
        rows = parquet.metadata.row_group(group).num_rows
        if offset + rows <= start:
            offset += rows
            continue
        # One thread: arrow's pool threads each keep an allocator heap (+50 MB RSS measured),
        # and the decode of one group is not what a copy waits on.
        table = parquet.read_row_group(group, use_threads=False)
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


def iter_digests(path: Path) -> Iterator[bytes]:
    """Only the per-vector digests (the checksum column), one row group at a time."""
    manifest = read_manifest(path)
    parquet = pq.ParquetFile(_data_file(path, manifest))
    for group in range(parquet.num_row_groups):
        yield from (
            parquet.read_row_group(group, columns=["checksum"], use_threads=False)
            .column("checksum")
            .to_pylist()
        )


@dataclass(frozen=True)
class FileCheck:
    ok: bool
    count: int
    checksum: str
    expected_count: int
    expected_checksum: str
    problem: str = ""


def verify_files(path: Path) -> FileCheck:
    """Re-hash every row from its id, values and metadata and compare with the manifest: proves
    the files would restore exactly what was backed up (a flipped bit anywhere shows)."""
    manifest = read_manifest(path)
    total = checksums.NamespaceChecksum()
    stored_mismatch = 0
    try:
        for batch in iter_batches(path):
            for vector, stored in zip(batch.vectors, batch.digests, strict=True):
                computed = checksums.vector_digest(vector)
                stored_mismatch += computed != stored
                total.add(computed)
    except (OSError, pa.ArrowException, ValueError) as exc:
        raise BackupCorrupt(f"{path}: cannot read the Parquet data: {exc}") from exc
    expected_count, expected = int(manifest.get("count", -1)), str(manifest.get("checksum", ""))
    problem = ""
    if stored_mismatch:
        problem = f"{stored_mismatch} rows do not match their stored checksum"
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
