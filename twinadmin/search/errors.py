"""Errors of the search app. Messages are written for the person who typed the input."""

from __future__ import annotations


class SearchError(Exception):
    """A search or a latency report could not be done."""


class SearchInputError(SearchError, ValueError):
    """Bad input, refused before anything is queried."""


class SearchBackendError(SearchError):
    """The index failed while answering (after the vector layer's own retries)."""
