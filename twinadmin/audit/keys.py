"""The audit log's signing key: Ed25519, kept in a file (AUDIT_SIGNING_KEY_FILE), never in the
database, so whoever can write the database cannot sign. Checkpoints and receipts are signed
with it; anyone holding the public key checks them.

Every signature covers a context label and the canonical JSON of a document, so a signature
made for one kind of document (a receipt) can never pass as another (a checkpoint).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings

from twinadmin.audit.chain import canonical_json

CHECKPOINT_CONTEXT = b"twinadmin-audit-checkpoint-v1\n"
RECEIPT_CONTEXT = b"twinadmin-erasure-receipt-v1\n"
ENTRY_MAC_CONTEXT = b"twinadmin-audit-entry-mac-v1\n"

# (key file, its mtime) -> the MAC key: audit_record reads the file once per process, and again
# only when it changes.
_mac_keys: dict[tuple[str, int], bytes] = {}


class AuditKeyError(Exception):
    """The key file is missing, unreadable or not an Ed25519 key."""


def signing_key_path() -> Path:
    return Path(settings.AUDIT_SIGNING_KEY_FILE)


def public_key_path() -> Path:
    """Next to the private key, as `<key file>.pub`: the file to hand to auditors."""
    path = signing_key_path()
    return path.with_name(path.name + ".pub")


def key_generate(path: Path | None = None) -> tuple[Ed25519PublicKey, bool]:
    """Create the key file (mode 0600) and its public half when absent. Returns the public key
    and whether it was created now. O_EXCL: two processes racing never write two keys."""
    path = path or signing_key_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return signing_key(path).public_key(), False
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    public = key.public_key()
    path.with_name(path.name + ".pub").write_text(public_key_pem(public))
    return public, True


def signing_key(path: Path | None = None) -> Ed25519PrivateKey:
    path = path or signing_key_path()
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError:
        raise AuditKeyError(f"no audit signing key at {path}: run `manage.py audit_keygen`") from None
    except (ValueError, TypeError, OSError) as exc:
        raise AuditKeyError(f"{path} is not a readable private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise AuditKeyError(f"{path} is not an Ed25519 key")
    return key


def public_key_parse(data: bytes | str, *, source: str = "public key") -> Ed25519PublicKey:
    """A PEM public key (what audit_keygen writes and the public-key page shows)."""
    raw = data.encode() if isinstance(data, str) else data
    try:
        key = serialization.load_pem_public_key(raw)
    except (ValueError, TypeError) as exc:
        raise AuditKeyError(f"{source} is not a PEM public key: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise AuditKeyError(f"{source} is not an Ed25519 public key")
    return key


def public_key_load(path: Path | str | None = None) -> Ed25519PublicKey:
    """The verifying key: the given file, else `<key file>.pub`, else derived from the key."""
    if path is not None:
        try:
            return public_key_parse(Path(path).read_bytes(), source=str(path))
        except OSError as exc:
            raise AuditKeyError(f"cannot read {path}: {exc.strerror}") from None
    if public_key_path().exists():
        return public_key_load(public_key_path())
    return signing_key().public_key()


def public_key_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def key_id(key: Ed25519PublicKey) -> str:
    """The first 8 bytes of SHA-256 of the raw public key, in hex: names the key in documents."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def sign(key: Ed25519PrivateKey, context: bytes, document: dict[str, Any]) -> str:
    return base64.b64encode(key.sign(context + canonical_json(document).encode("ascii"))).decode()


def signature_valid(key: Ed25519PublicKey, context: bytes, document: dict[str, Any], signature: Any) -> bool:
    if not isinstance(signature, str):
        return False
    try:
        key.verify(
            base64.b64decode(signature, validate=True), context + canonical_json(document).encode("ascii")
        )
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def entry_mac_key() -> bytes | None:
    """The secret that authenticates entries as written by a holder of the key file: derived from
    the private key, so there is one secret to keep. None when there is no key file yet."""
    path = signing_key_path()
    try:
        stamp = (str(path), path.stat().st_mtime_ns)
    except OSError:
        return None
    cached = _mac_keys.get(stamp)
    if cached is None:
        try:
            raw = signing_key(path).private_bytes(
                serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
            )
        except AuditKeyError:
            return None
        cached = hashlib.sha256(ENTRY_MAC_CONTEXT + raw).digest()
        _mac_keys.clear()
        _mac_keys[stamp] = cached
    return cached


def entry_mac(key: bytes, entry_hash: str) -> str:
    """HMAC-SHA256 of an entry's chain hash (which covers its seq, content and predecessor)."""
    return hmac.new(key, ENTRY_MAC_CONTEXT + entry_hash.encode("ascii"), hashlib.sha256).hexdigest()
