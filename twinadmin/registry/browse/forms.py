"""Input of the vector browser. Names, ids and prefixes are checked with the vector layer's own
rules (Pinecone's), so what passes here is what the index accepts; a pagination token is opaque,
so only its shape and size are checked, and the index says whether it is valid."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django import forms

from twinadmin.registry import codec
from twinadmin.vectors import InvalidRequest, limits

# Tokens come from our own "next" links: base64-like text. A token far longer than any index
# hands out, or with other characters, is refused before it reaches the index.
MAX_TOKEN_LENGTH = 2048
_TOKEN_RE = re.compile(r"\A[A-Za-z0-9_\-+/=.~]*\Z")


def _vector_layer_rule(check: Callable[[str], str], value: str) -> str:
    try:
        return check(value)
    except InvalidRequest as exc:
        raise forms.ValidationError(f"{str(exc)[:1].upper()}{str(exc)[1:]}.") from None


class _IndexNameField(forms.CharField):
    """A name the index takes: at most `longest` characters (said plainly, with the length seen),
    then the vector layer's `rule`. Not stripped: a name may start or end with a space."""

    what = ""
    longest = 0

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("strip", False)
        super().__init__(**kwargs)

    def rule(self, value: str) -> str:
        raise NotImplementedError

    def clean(self, value: Any) -> Any:
        value = super().clean(value)
        if not value:
            return value
        if len(value) > self.longest:
            raise forms.ValidationError(
                f"{self.what} has at most {self.longest} characters; this one has {len(value)}."
            )
        return _vector_layer_rule(self.rule, value)


class NamespaceField(_IndexNameField):
    """A namespace name as the index takes it (ASCII without NUL, at most 512 characters)."""

    what, longest = "A namespace name", limits.MAX_NAMESPACE_LENGTH

    def rule(self, value: str) -> str:
        return limits.normalize_namespace(value)


class VectorIdField(_IndexNameField):
    what, longest = "A vector id", limits.MAX_ID_LENGTH

    def rule(self, value: str) -> str:
        return limits.validate_id(value)


class PickField(forms.CharField):
    """The creator whose search page a picked vector goes back to."""

    def clean(self, value: Any) -> Any:
        value = super().clean(value)
        if value and not codec.is_valid_id(value):
            raise forms.ValidationError(f"Invalid creator id to pick for: {codec.ID_RULES}.")
        return value


class VectorListForm(forms.Form):
    namespace = NamespaceField(error_messages={"required": "Say which namespace to browse (?namespace=…)."})
    # Django's metaclass takes the field off the class, so Form.prefix stays what it was.
    prefix = forms.CharField(required=False, strip=False)  # type: ignore[assignment]
    token = forms.CharField(required=False)
    pick = PickField(required=False)

    def clean_prefix(self) -> str:
        prefix = self.cleaned_data["prefix"]
        if len(prefix) > limits.MAX_ID_LENGTH:
            raise forms.ValidationError(
                f"An id prefix has at most {limits.MAX_ID_LENGTH} characters; this one has {len(prefix)}."
            )
        return _vector_layer_rule(limits.validate_prefix, prefix)

    def clean_token(self) -> str:
        token = self.cleaned_data["token"]
        if len(token) > MAX_TOKEN_LENGTH or not _TOKEN_RE.match(token):
            raise forms.ValidationError("This page link is not valid: follow the “next” link of a listing.")
        return token


class VectorDetailForm(forms.Form):
    namespace = NamespaceField(
        error_messages={"required": "Say which namespace the vector is in (?namespace=…)."}
    )
    id = VectorIdField(error_messages={"required": "Say which vector to show (?id=…)."})
    pick = PickField(required=False)
