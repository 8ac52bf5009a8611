"""Request and response shapes of the API (pydantic, through django-ninja)."""

import datetime as dt
from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import AfterValidator, ConfigDict, Field, field_validator

from twinadmin.api.models import EVENTS
from twinadmin.lib.text import BIDI_CONTROLS
from twinadmin.registry import codec


def _plain_text(value: str) -> str:
    """No NUL (PostgreSQL cannot store it) and no bidirectional controls (the pages would show
    the text reading differently from what is stored). Lone surrogates never get this far: the
    body parser (orjson) refuses them."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    if any(c in BIDI_CONTROLS for c in value):
        raise ValueError("must not contain bidirectional control characters")
    return value


Id = Annotated[str, Field(min_length=1, max_length=codec.MAX_ID_LENGTH, pattern=rf"^{codec.ID_PATTERN}$")]
Name = Annotated[str, Field(max_length=200), AfterValidator(_plain_text)]
Reason = Annotated[str, Field(min_length=1, max_length=2000, pattern=r"\S"), AfterValidator(_plain_text)]
Event = Literal["erasure.approved", "erasure.completed", "erasure.failed", "twin.deleted"]
assert set(Event.__args__) == set(EVENTS)  # type: ignore[attr-defined]


class Problem(Schema):
    type: str
    title: str
    status: int
    detail: str
    errors: list[dict[str, Any]] | None = None


class TwinIn(Schema):
    twin_id: Id | None = Field(None, description="An id the product chose; else one is made by `naming`.")
    name: Name = ""
    naming: Literal["uuid", "semantic", "sequential"] = "uuid"


class CreatorIn(Schema):
    creator_id: Id
    display_name: Name = ""
    twins: list[TwinIn] = Field(default_factory=list, max_length=100)


class _Strict(Schema):
    """A body whose unknown fields are refused (422): for an update, a misspelt field would
    otherwise be a silent no-op answered 200."""

    model_config = ConfigDict(extra="forbid")


class CreatorPatch(_Strict):
    display_name: Name


class TwinPatch(_Strict):
    name: Name


class TwinPut(_Strict):
    twin_id: Id = Field(description="The product's id of the twin: created when absent, else renamed.")
    name: Name = ""


class CreatorPut(_Strict):
    display_name: Name = ""
    twins: list[TwinPut] = Field(
        default_factory=list,
        max_length=100,
        description="Ensured: each created when absent, else given this name. Twins not listed stay.",
    )

    @field_validator("twins")
    @classmethod
    def _twin_ids_unique(cls, twins: list[TwinPut]) -> list[TwinPut]:
        seen: set[str] = set()
        for twin in twins:
            if twin.twin_id in seen:
                raise ValueError(f"twin {twin.twin_id!r} is listed twice")
            seen.add(twin.twin_id)
        return twins


class TwinOut(Schema):
    twin_id: str
    namespace: str
    name: str
    status: str
    naming: str
    vector_count: int | None
    count_observed_at: dt.datetime | None


class CreatorOut(Schema):
    creator_id: str
    display_name: str
    status: str
    twins: list[TwinOut]


class TwinDeletionIn(Schema):
    reason: Reason


class TwinDeletionOut(Schema):
    deletion_id: int
    creator_id: str
    twin_id: str
    namespace: str
    status: str
    vectors_before: int | None
    error: str


class ErasureIn(Schema):
    creator_id: Id
    reason: Reason
    dsr_id: Name = Field("", description="The product's own reference of the request (DSR id).")


class ErasureScope(Schema):
    namespaces: list[str]
    total_vectors: int | None
    digest: str | None
    read_at: str | None


class ErasureOut(Schema):
    request_id: int
    creator_id: str
    dsr_id: str
    reason: str
    status: str
    requested_at: dt.datetime
    approved_at: dt.datetime | None
    verified_at: dt.datetime | None
    attempts: int
    last_error: str
    scope: ErasureScope | None = Field(description="What the approver approved (null until approved).")
    receipt_available: bool


class WebhookIn(Schema):
    url: Annotated[str, Field(min_length=1, max_length=2000), AfterValidator(_plain_text)]
    events: list[Event] = Field(min_length=1, max_length=len(EVENTS))


class WebhookOut(Schema):
    webhook_id: int
    url: str
    events: list[str]
    created_at: dt.datetime
    secret: str | None = Field(
        None, description="The signing secret: shown once, in the answer that registers it."
    )
