"""Idempotency-Key for write calls (Stripe's convention): a retried call with the same key and the
same request returns the first call's result and does nothing again; the same key with another
request is a 422.

How two concurrent calls with one key end with one effect: the first inserts the key's row and
runs the call in the same transaction; the second's insert of the same (client, key) waits on the
unique index until the first commits (PostgreSQL; SQLite's write lock serialises them anyway),
then fails, and the second answers with the row the first committed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from functools import wraps
from typing import Any

import orjson
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from ninja import Status

from twinadmin.api.models import IdempotencyRecord
from twinadmin.api.problems import CONTENT_TYPE, Problem, problem_of, problem_response

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"


def _fingerprint(request: HttpRequest) -> str:
    digest = hashlib.sha256(f"{request.method} {request.path}\n".encode())
    digest.update(request.body)
    return digest.hexdigest()


def _key(request: HttpRequest) -> str | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not (1 <= len(key) <= 255) or not key.isascii() or not key.isprintable():
        raise Problem(400, f"{HEADER} must be 1 to 255 printable ASCII characters.")
    return key


def _replay(record: IdempotencyRecord, fingerprint: str) -> HttpResponse:
    if record.fingerprint != fingerprint:
        raise Problem(
            422,
            f"This {HEADER} was used for another request; use a new key for a new request.",
            kind="idempotency-key-reused",
        )
    content_type = CONTENT_TYPE if record.status_code >= 400 else "application/json"
    response = HttpResponse(
        orjson.dumps(record.response), status=record.status_code, content_type=content_type
    )
    response[REPLAYED_HEADER] = "true"
    return response


def idempotent(view: Callable[..., Status[Any]]) -> Callable[..., Any]:
    """Wrap a write endpoint returning Status(code, JSON-able data)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        key = _key(request)
        if key is None:
            return view(request, *args, **kwargs)
        client = request.auth  # type: ignore[attr-defined]
        fingerprint = _fingerprint(request)
        with transaction.atomic():
            try:
                with transaction.atomic():
                    record = IdempotencyRecord.objects.create(client=client, key=key, fingerprint=fingerprint)
            except IntegrityError:
                return _replay(IdempotencyRecord.objects.get(client=client, key=key), fingerprint)
            try:
                with transaction.atomic():  # a refusal rolls the call's writes back, not the key
                    result = view(request, *args, **kwargs)
            except Exception as exc:
                problem = problem_of(exc)
                if problem.status >= 500 or problem.status == 429:
                    # Not a result (a bug, or the index busy or down): the key is released with
                    # the rollback, and the same request may be retried.
                    raise
                IdempotencyRecord.objects.filter(pk=record.pk).update(
                    status_code=problem.status, response=problem.body()
                )
                return problem_response(problem)
            data = json.loads(json.dumps(result.value, cls=DjangoJSONEncoder))
            IdempotencyRecord.objects.filter(pk=record.pk).update(
                status_code=result.status_code, response=data
            )
        return Status(result.status_code, data)

    return wrapper
