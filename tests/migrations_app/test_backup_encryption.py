"""Backup encryption: the segmented AES-256-GCM stream reads back exactly at every size around a
segment boundary, and anything done to the stored bytes (a flipped bit, a cut at a segment
boundary, segments swapped, appended or spliced from another backup, another key) is refused;
the key-encryption key is made once, kept private, and its absence stops start-up clearly."""

from __future__ import annotations

import io
import os
import stat

import pytest
from django.core.checks import run_checks
from django.core.management import call_command

from migrations_app.backup_crypto import (
    HEADER_BYTES,
    OVERHEAD,
    SEGMENT_BYTES,
    DecryptingReader,
    DecryptionFailed,
    EncryptingWriter,
    FileKekProvider,
    KekError,
    kek_generate,
    new_data_key,
    stream_context,
)

KEY = new_data_key()
STRIDE = SEGMENT_BYTES + OVERHEAD


class _Sink(io.BytesIO):
    def close(self) -> None:  # keep the bytes readable after the writer closes its sink
        pass


def _encrypt(plain: bytes, *, key: bytes = KEY, backup: str = "b1", chunk: int = 300_001) -> bytes:
    sink = _Sink()
    writer = EncryptingWriter(sink, key=key, context=stream_context(backup, "i1.parquet.enc"))
    for start in range(0, len(plain), chunk):
        writer.write(plain[start : start + chunk])
    writer.close()
    return sink.getvalue()


def _reader(stored: bytes, *, key: bytes = KEY, backup: str = "b1") -> DecryptingReader:
    return DecryptingReader(
        lambda start, end: stored[start:end],
        len(stored),
        key=key,
        context=stream_context(backup, "i1.parquet.enc"),
    )


@pytest.mark.parametrize(
    "size", [0, 1, SEGMENT_BYTES - 1, SEGMENT_BYTES, SEGMENT_BYTES + 1, 2 * SEGMENT_BYTES + 5]
)
def test_every_size_reads_back_exactly_and_in_any_order(size):
    plain = os.urandom(size)
    stored = _encrypt(plain)
    assert size < 16 or plain[:16] not in stored

    reader = _reader(stored)
    assert reader.size == size and reader.read() == plain
    # Random reads, as Parquet does them (footer first, then row groups).
    for offset, length in [(max(0, size - 9), 9), (0, 17), (size // 2, SEGMENT_BYTES + 3)]:
        reader.seek(offset)
        assert reader.read(length) == plain[offset : offset + length]


def _bad(stored: bytes, **options) -> None:
    with pytest.raises(DecryptionFailed):
        _reader(stored, **options).read()


def test_a_flipped_bit_anywhere_is_refused():
    stored = bytearray(_encrypt(os.urandom(2 * SEGMENT_BYTES + 10)))
    for position in (HEADER_BYTES + 3, HEADER_BYTES + STRIDE + 100, len(stored) - 1):
        damaged = bytearray(stored)
        damaged[position] ^= 0x01
        _bad(bytes(damaged))


def test_a_cut_at_a_segment_boundary_is_refused():
    stored = _encrypt(os.urandom(3 * SEGMENT_BYTES + 10))
    _bad(stored[: HEADER_BYTES + 2 * STRIDE])  # two whole segments, neither marked final


def test_swapped_or_appended_segments_are_refused():
    stored = _encrypt(os.urandom(2 * SEGMENT_BYTES + 10))
    first, second = (stored[HEADER_BYTES + i * STRIDE : HEADER_BYTES + (i + 1) * STRIDE] for i in (0, 1))
    swapped = stored[:HEADER_BYTES] + second + first + stored[HEADER_BYTES + 2 * STRIDE :]
    _bad(swapped)
    _bad(stored[: HEADER_BYTES + 2 * STRIDE] + first + stored[HEADER_BYTES + 2 * STRIDE :])


def test_a_segment_spliced_from_another_backup_or_read_with_another_key_is_refused():
    plain = os.urandom(SEGMENT_BYTES + 10)
    ours, theirs = _encrypt(plain, backup="b1"), _encrypt(plain, backup="b2")
    _bad(ours[:HEADER_BYTES] + theirs[HEADER_BYTES : HEADER_BYTES + STRIDE] + ours[HEADER_BYTES + STRIDE :])
    _bad(ours, key=new_data_key())
    _bad(ours, backup="b2")


def test_keygen_makes_a_private_kek_once_and_never_replaces_it(settings, tmp_path):
    settings.BACKUP_KEK_FILE = tmp_path / "keys" / "kek"
    out = io.StringIO()
    call_command("backup_keygen", stdout=out, stderr=io.StringIO())
    first = settings.BACKUP_KEK_FILE.read_bytes()
    assert stat.S_IMODE(settings.BACKUP_KEK_FILE.stat().st_mode) == 0o600
    assert out.getvalue().strip() == FileKekProvider(settings.BACKUP_KEK_FILE).kek_id()

    call_command("backup_keygen", stdout=io.StringIO(), stderr=io.StringIO())
    assert settings.BACKUP_KEK_FILE.read_bytes() == first
    assert kek_generate(settings.BACKUP_KEK_FILE)[1] is False


def test_a_data_key_wrapped_by_one_kek_does_not_open_with_another(tmp_path):
    one, other = FileKekProvider(tmp_path / "one"), FileKekProvider(tmp_path / "other")
    kek_generate(one.path), kek_generate(other.path)
    wrapped = one.wrap(KEY)
    assert one.unwrap(wrapped, kek_id=one.kek_id()) == KEY
    with pytest.raises(KekError, match="wrapped by KEK"):
        other.unwrap(wrapped, kek_id=one.kek_id())


def test_a_missing_or_unreadable_kek_stops_start_up_with_what_to_do(settings, tmp_path):
    settings.BACKUP_KEK_FILE = tmp_path / "absent"
    errors = [e for e in run_checks() if e.id == "migrations_app.E001"]
    assert len(errors) == 1 and "backup_keygen" in errors[0].msg + errors[0].hint

    settings.BACKUP_KEK_FILE.write_text("not a key")
    errors = [e for e in run_checks() if e.id == "migrations_app.E001"]
    assert len(errors) == 1 and "is not a backup KEK" in errors[0].msg
    with pytest.raises(KekError, match="is not a backup KEK"):
        FileKekProvider().wrap(KEY)

    kek_generate(settings.BACKUP_KEK_FILE.with_name("made"))
    settings.BACKUP_KEK_FILE = settings.BACKUP_KEK_FILE.with_name("made")
    assert not [e for e in run_checks() if e.id == "migrations_app.E001"]
