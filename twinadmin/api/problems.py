"""RFC 9457 Problem Details: every error of the API is one of these, as
`application/problem+json` with type, title, status, detail (and `errors` for validation)."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from twinadmin.api.services import ApiInputError
from twinadmin.erasure.services import ErasureError, ErasureForbidden
from twinadmin.ops.index_errors import index_error_status
from twinadmin.registry.services import RegistryError
from twinadmin.vectors.errors import VectorError

log = logging.getLogger(__name__)
CONTENT_TYPE = "application/problem+json"
TYPE_BASE = "https://twinadmin.invalid/problems/"
TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
}


class Problem(Exception):
    """Raised anywhere under an endpoint; answered as Problem Details, nothing changed."""

    def __init__(
        self, status: int, detail: str, *, kind: str = "", errors: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(detail)
        self.status, self.detail, self.kind, self.errors = status, detail, kind, errors

    def body(self) -> dict[str, Any]:
        kind = self.kind or TITLES.get(self.status, "error").lower().replace(" ", "-")
        body: dict[str, Any] = {
            "type": TYPE_BASE + kind,
            "title": TITLES.get(self.status, "Error"),
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors is not None:
            body["errors"] = self.errors
        return body


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> HttpResponse:
    response = HttpResponse(orjson.dumps(problem.body()), status=problem.status, content_type=CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def problem_of(exc: Exception) -> Problem:
    """The Problem an exception stands for. Service refusals (bad input, a step refused) are
    422 and 403; anything not known here is a bug, and a 500 says so."""
    if isinstance(exc, Problem):
        return exc
    if isinstance(exc, NinjaValidationError):
        errors = [
            {
                "loc": [str(p) for p in e.get("loc", ())],
                "msg": str(e.get("msg", "")),
                "type": str(e.get("type", "")),
            }
            for e in exc.errors
        ]
        return Problem(422, "The request does not match the schema.", kind="validation", errors=errors)
    if isinstance(exc, AuthenticationError):
        return Problem(401, "Send a valid, unrevoked API token as 'Authorization: Bearer <token>'.")
    if isinstance(exc, HttpError):
        return Problem(exc.status_code, str(exc))
    if isinstance(exc, Http404):
        return Problem(404, "No such resource.")
    if isinstance(exc, ErasureForbidden):
        return Problem(403, str(exc))
    if isinstance(exc, RegistryError | ErasureError | ApiInputError):
        return Problem(422, str(exc), kind="refused")
    if isinstance(exc, DjangoValidationError):
        return Problem(422, "; ".join(exc.messages), kind="refused")
    if isinstance(exc, VectorError):  # the index refused or failed: try again, not a bug
        status, _ = index_error_status(exc)
        kind = "index-busy" if status == 429 else "index-unavailable"
        return Problem(status, f"The vector index did not answer: {type(exc).__name__}.", kind=kind)
    log.exception("API: unexpected error", exc_info=exc)
    return Problem(500, "An unexpected error; it has been logged.")


def install_handlers(api: NinjaAPI) -> None:
    def handle(request: HttpRequest, exc: Any) -> HttpResponse:
        problem = problem_of(exc)
        if isinstance(exc, RateLimited):
            headers: dict[str, str] | None = {"Retry-After": str(exc.retry_after)}
        elif isinstance(exc, VectorError):
            headers = index_error_status(exc)[1]
        else:
            headers = None
        return problem_response(problem, headers)

    # ninja looks a handler up along the exception's MRO: its own defaults for these classes
    # would win over one registered for Exception alone.
    for cls in (Exception, Http404, HttpError, NinjaValidationError, Problem):
        api.add_exception_handler(cls, handle)


class RateLimited(Problem):
    def __init__(self, retry_after: int) -> None:
        super().__init__(429, f"Rate limit reached; retry in {retry_after} s.", kind="rate-limited")
        self.retry_after = retry_after
