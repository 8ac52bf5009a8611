"""Encryption of backup objects: AES-256-GCM with the creator's data key, in authenticated
segments, and the key-encryption key (KEK) that wraps the data keys.

Stream format (`TWBK` v1): an 8-byte header (magic, version, log2 of the segment size), then
segments of `SEGMENT_BYTES` plaintext each (the last one shorter, possibly empty), each stored as
a fresh random 96-bit nonce followed by the ciphertext and its 16-byte tag. Every segment's
associated data binds the backup's id, the object's name, the segment's number and whether it is
the last one: a segment moved within an object or between objects or backups, an object cut at a
segment boundary, or one with segments appended, fails authentication. Any segment can be
decrypted on its own, so Parquet's random reads (footer first, then row groups) stream.

Data keys are 32 random bytes per creator, stored only wrapped (AES key wrap, RFC 3394) by the
KEK. The KEK comes from a provider (`KekProvider`): a file here (BACKUP_KEK_FILE, mode 0600,
created by `manage.py backup_keygen`); a KMS can implement the same three methods. Destroying a
creator's wrapped data key makes every copy of their backups unreadable, wherever it survives.
"""

from __future__ import annotations

import base64
import hashlib
import os
import struct
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap
from django.conf import settings

ALGORITHM = "AES-256-GCM-segmented-v1"
MAGIC = b"TWBK\x01"
# 64 KiB of plaintext per segment: what a writer or reader holds decrypted at a time is a few
# segments, and the 28 bytes of nonce and tag cost 0.04%.
SEGMENT_SHIFT = 16
SEGMENT_BYTES = 1 << SEGMENT_SHIFT
HEADER_BYTES = 8
NONCE_BYTES = 12
TAG_BYTES = 16
OVERHEAD = NONCE_BYTES + TAG_BYTES
KEY_BYTES = 32
_KEK_HEADER = "twinadmin backup KEK v1"


class KekError(Exception):
    """The key-encryption key is missing, unreadable or not the one the data key was wrapped by."""


class DecryptionFailed(Exception):
    """A segment does not authenticate: the object was altered, cut, spliced, or the key is wrong."""


# -- the key-encryption key -------------------------------------------------------------------


class KekProvider(Protocol):
    """What wraps data keys. A KMS implements these with its own key id and API calls."""

    def kek_id(self) -> str: ...

    def wrap(self, data_key: bytes) -> bytes: ...

    def unwrap(self, wrapped: bytes, *, kek_id: str) -> bytes: ...


def kek_path() -> Path:
    return Path(settings.BACKUP_KEK_FILE)


def kek_generate(path: Path | None = None) -> tuple[str, bool]:
    """Create the KEK file (mode 0600) when absent; never replaces one (O_EXCL: two processes
    racing never write two keys). Returns its id and whether it was created now."""
    path = path or kek_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = os.urandom(KEY_BYTES)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return FileKekProvider(path).kek_id(), False
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(f"{_KEK_HEADER}\n{base64.b64encode(key).decode()}\n")
    return _key_id(key), True


def _key_id(key: bytes) -> str:
    return hashlib.sha256(b"twinadmin-backup-kek-id\n" + key).hexdigest()[:16]


class FileKekProvider:
    """The KEK as 32 bytes in a file (base64 under a header line). Read at each use, so a key
    mounted after start-up is picked up, and a missing one says so clearly."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or kek_path()

    def _key(self) -> bytes:
        try:
            text = self.path.read_text(encoding="ascii")
        except FileNotFoundError:
            raise KekError(
                f"no backup key-encryption key at {self.path} (BACKUP_KEK_FILE): run "
                "`manage.py backup_keygen`, or mount the operators' copy of it"
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise KekError(f"cannot read the backup KEK at {self.path}: {exc}") from None
        lines = text.split()
        try:
            key = base64.b64decode(lines[-1], validate=True) if text.startswith(_KEK_HEADER) else b""
        except ValueError:
            key = b""
        if len(key) != KEY_BYTES:
            raise KekError(f"{self.path} is not a backup KEK (made by `manage.py backup_keygen`)")
        return key

    def kek_id(self) -> str:
        return _key_id(self._key())

    def wrap(self, data_key: bytes) -> bytes:
        return aes_key_wrap(self._key(), data_key)

    def unwrap(self, wrapped: bytes, *, kek_id: str) -> bytes:
        key = self._key()
        if kek_id and kek_id != _key_id(key):
            raise KekError(
                f"this data key was wrapped by KEK {kek_id}, and {self.path} holds KEK {_key_id(key)}"
            )
        try:
            return aes_key_unwrap(key, wrapped)
        except InvalidUnwrap:
            raise KekError(f"the data key does not unwrap with the KEK at {self.path}") from None


def kek_provider() -> KekProvider:
    return FileKekProvider()


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def key_fingerprint(data_key: bytes) -> str:
    """Names a data key in a manifest (a one-way hash: says which key, reveals nothing of it)."""
    return hashlib.sha256(b"twinadmin-backup-data-key-id\n" + data_key).hexdigest()[:16]


# -- segmented streams ------------------------------------------------------------------------


def _aad(context: bytes, number: int, final: bool) -> bytes:
    return context + struct.pack(">QB", number, 1 if final else 0)


def stream_context(backup_id: str, name: str) -> bytes:
    """What every segment of one object of one backup is bound to."""
    raw = f"{backup_id}\n{name}".encode()
    return b"twinadmin-backup-v1\n" + struct.pack(">I", len(raw)) + raw


class EncryptingWriter:
    """A write-only binary file that encrypts into `sink` (a store writer) segment by segment;
    holds at most one segment of plaintext. `close()` writes the final segment and closes the
    sink; `tell()` is the plaintext position (what Parquet writers ask)."""

    def __init__(self, sink: object, *, key: bytes, context: bytes) -> None:
        self._sink = sink
        self._aead = AESGCM(key)
        self._context = context
        self._buffer = bytearray()
        self._number = 0
        self._position = 0
        self.closed = False
        self._emit_raw(MAGIC + bytes([0, 0, SEGMENT_SHIFT]))

    def _emit_raw(self, data: bytes) -> None:
        self._sink.write(data)  # type: ignore[attr-defined]

    def _emit(self, plaintext: bytes | memoryview, final: bool) -> None:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext, _aad(self._context, self._number, final))
        self._emit_raw(nonce + sealed)
        self._number += 1

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._buffer += data
        self._position += len(data)
        # Keep back at least one byte: the last segment must be known as final when emitted.
        if len(self._buffer) > SEGMENT_BYTES:
            done = 0
            with memoryview(self._buffer) as view:  # segments sealed in place, not copied out
                while len(self._buffer) - done > SEGMENT_BYTES:
                    self._emit(view[done : done + SEGMENT_BYTES], final=False)
                    done += SEGMENT_BYTES
            del self._buffer[:done]
        return len(data)

    def tell(self) -> int:
        return self._position

    def flush(self) -> None:
        pass

    def writable(self) -> bool:
        return True

    def close(self) -> None:
        if self.closed:
            return
        self._emit(bytes(self._buffer), final=True)
        self._buffer.clear()
        self.closed = True
        self._sink.close()  # type: ignore[attr-defined]


class HashingWriter:
    """Passes bytes to a store writer, counting them and hashing them (SHA-256) on the way."""

    def __init__(self, sink: object) -> None:
        self._sink: object | None = sink
        self.hash = hashlib.sha256()
        self.size = 0
        # Set by an abort: nothing more reaches the store, and the object is never completed
        # (the store's writer is dropped unclosed: no rename, no completed multipart upload).
        self.discard = False

    def write(self, data: bytes) -> int:
        if self.discard:
            self._sink = None
            return len(data)
        self._sink.write(data)  # type: ignore[union-attr]
        self.hash.update(data)
        self.size += len(data)
        return len(data)

    def close(self) -> None:
        if self.discard:
            self._sink = None
            return
        self._sink.close()  # type: ignore[union-attr]


def plaintext_size(stored: int) -> int:
    """The plaintext length of a stored object of `stored` bytes (DecryptionFailed if no
    well-formed stream has that length)."""
    body = stored - HEADER_BYTES
    if body < OVERHEAD:
        raise DecryptionFailed(f"{stored} bytes cannot hold an encrypted backup stream")
    segments = -(-body // (SEGMENT_BYTES + OVERHEAD))
    last = body - (segments - 1) * (SEGMENT_BYTES + OVERHEAD) - OVERHEAD
    if last < 0:
        raise DecryptionFailed(f"{stored} bytes is not a whole number of segments")
    return (segments - 1) * SEGMENT_BYTES + last


class DecryptingReader:
    """A seekable read-only binary file over an encrypted object, reading only the segments a
    read needs (one ranged request per read) and keeping the last one decrypted."""

    def __init__(self, fetch: object, stored: int, *, key: bytes, context: bytes) -> None:
        self._fetch = fetch  # (start, end) -> bytes of the stored object
        self._aead = AESGCM(key)
        self._context = context
        self._stored = stored
        self.size = plaintext_size(stored)
        self._segments = -(-(stored - HEADER_BYTES) // (SEGMENT_BYTES + OVERHEAD))
        header = self._get(0, HEADER_BYTES)
        if header[:5] != MAGIC or header[7] != SEGMENT_SHIFT:
            raise DecryptionFailed("not an encrypted backup stream (bad header)")
        self._position = 0
        self._cached: tuple[int, bytes] | None = None
        self.closed = False

    def _get(self, start: int, end: int) -> bytes:
        return self._fetch(start, end)  # type: ignore[operator]

    def _decrypt_range(self, first: int, last: int) -> list[bytes]:
        stride = SEGMENT_BYTES + OVERHEAD
        start = HEADER_BYTES + first * stride
        end = min(self._stored, HEADER_BYTES + (last + 1) * stride)
        raw = memoryview(self._get(start, end))
        out = []
        for number in range(first, last + 1):
            piece = raw[(number - first) * stride : (number - first + 1) * stride]
            aad = _aad(self._context, number, number == self._segments - 1)
            try:
                out.append(self._aead.decrypt(piece[:NONCE_BYTES], piece[NONCE_BYTES:], aad))
            except InvalidTag:
                raise DecryptionFailed(
                    f"segment {number} of {self._segments} does not authenticate "
                    "(altered, truncated or spliced, or not this creator's key)"
                ) from None
        return out

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = self.size - self._position
        size = max(0, min(size, self.size - self._position))
        if size == 0:
            return b""
        first = self._position >> SEGMENT_SHIFT
        last = (self._position + size - 1) >> SEGMENT_SHIFT
        if self._cached is not None and first == last == self._cached[0]:
            segments = [self._cached[1]]
        else:
            segments = self._decrypt_range(first, last)
            self._cached = (last, segments[-1])
        offset = self._position - (first << SEGMENT_SHIFT)
        if len(segments) == 1:
            data = segments[0][offset : offset + size]
        else:  # one copy of what was asked, the segments' parts written into it in place
            out = bytearray(size)
            view, filled = memoryview(out), 0
            for segment in segments:
                part = memoryview(segment)[offset : offset + size - filled]
                view[filled : filled + len(part)] = part
                filled += len(part)
                offset = 0
            data = bytes(out) if filled == size else bytes(out[:filled])
        self._position += len(data)
        return data

    def readall(self) -> bytes:
        return self.read(-1)

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._position, 2: self.size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def tell(self) -> int:
        return self._position

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self.closed = True
