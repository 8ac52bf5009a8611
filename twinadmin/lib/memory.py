"""Giving freed heap memory back to the operating system (glibc only; a no-op elsewhere)."""

from __future__ import annotations

import ctypes
import platform
import sys
from typing import Any


def _load_libc() -> Any:
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


_LIBC = _load_libc()


def release_freed_memory() -> None:
    """Hand freed heap pages back to the OS (glibc malloc_trim). Batches are allocated on pool
    threads, each with its own malloc arena, and without this the process keeps every arena's
    high-water mark: measured at 2 threads, ~100 MB more RSS for a 1536-dimension copy."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)
