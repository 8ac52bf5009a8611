from __future__ import annotations

from typing import Any

from django import forms

from twinadmin.lib.text import validate_display_text
from twinadmin.registry import codec
from twinadmin.registry.browse.forms import NamespaceField, VectorIdField
from twinadmin.registry.models import Twin
from twinadmin.search.errors import SearchInputError
from twinadmin.search.latency import MAX_QUERIES
from twinadmin.search.services import MAX_TOP_K, parse_filter, parse_vector


class CreatorPickForm(forms.Form):
    creator = forms.CharField(
        label="Creator id",
        max_length=codec.MAX_ID_LENGTH,
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "e.g. sainath.no.1"}),
    )

    def clean_creator(self) -> str:
        value = self.cleaned_data["creator"].strip()
        try:
            return codec.validate_creator_id(value)
        except codec.InvalidId as exc:
            raise forms.ValidationError(str(exc)) from None


class MultiTwinSearchForm(forms.Form):
    """One search over a creator's namespaces. The twin choices are the creator's active twins,
    so a twin of another creator is refused here already (and again by the service)."""

    twins = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)
    include_shared = forms.BooleanField(label="Creator-wide namespace", required=False, initial=True)
    vector_id = forms.CharField(label="Vector id", required=False, max_length=512)
    vector_namespace = NamespaceField(
        label="…taken from namespace",
        required=False,
        help_text="Empty: the id is looked up in the selected namespaces. Any namespace may lend its vector.",
    )
    exclude_self = forms.BooleanField(
        label="Leave the query vector itself out of the hits",
        required=False,
        initial=True,
        help_text="When searching by a stored vector: its own id (and identical copies of it) are not hits.",
    )
    vector = forms.CharField(
        label="…or paste a vector",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "[0.012, -0.087, 0.153, …]"}),
    )
    top_k = forms.IntegerField(label="top_k", min_value=1, max_value=MAX_TOP_K, initial=10)
    filter = forms.CharField(
        label="Metadata filter (JSON)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": '{"source": {"$in": ["notion", "web"]}}'}),
    )

    def __init__(self, *args: Any, twins: list[Twin], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["twins"].choices = [  # type: ignore[attr-defined]  # a MultipleChoiceField
            (t.twin_id, f"{t.twin_id}{f' · {t.name}' if t.name else ''}") for t in twins
        ]
        self.fields["twins"].initial = [t.twin_id for t in twins]

    def clean_vector(self) -> list[float] | None:
        raw = self.cleaned_data["vector"].strip()
        if not raw:
            return None
        try:
            return parse_vector(raw)
        except SearchInputError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_filter(self) -> dict | None:
        try:
            return parse_filter(self.cleaned_data["filter"])
        except SearchInputError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or self.cleaned_data
        vector_id = (data.get("vector_id") or "").strip()
        data["vector_id"] = vector_id or None
        data["vector_namespace"] = data.get("vector_namespace") or None
        if data["vector_namespace"] and not vector_id:
            raise forms.ValidationError("A namespace to take the query vector from needs a vector id too.")
        has_vector = data.get("vector") is not None or "vector" in self.errors
        if bool(vector_id) == has_vector:
            raise forms.ValidationError("Give a vector id or paste a vector (exactly one of them).")
        if not data.get("twins") and not data.get("include_shared"):
            raise forms.ValidationError("Choose at least one twin or the creator-wide namespace.")
        return data


class QueryPickForm(forms.Form):
    """A stored vector chosen elsewhere (the vector browser's "find similar" or "use as query"),
    carried in the search page's address to fill its form in."""

    vector_namespace = NamespaceField(required=False)
    vector_id = VectorIdField(required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or self.cleaned_data
        if data.get("vector_namespace") and not data.get("vector_id"):
            raise forms.ValidationError("A namespace to take the query vector from needs a vector id too.")
        return data

    @property
    def picked(self) -> dict[str, Any]:
        """The search form's initial values for the picked vector (none when nothing was picked)."""
        if not self.is_valid() or not self.cleaned_data.get("vector_id"):
            return {}
        return {**self.carried, "exclude_self": True}

    @property
    def carried(self) -> dict[str, str]:
        """The pick as address parameters, to hand on to another page."""
        if not self.is_valid():
            return {}
        return {k: v for k, v in self.cleaned_data.items() if v}


class LatencyRunForm(forms.Form):
    label = forms.CharField(
        max_length=200,
        required=False,
        validators=[validate_display_text],
        widget=forms.TextInput(attrs={"placeholder": "e.g. before migration"}),
    )
    creator_id = forms.CharField(
        label="Creator id",
        max_length=codec.MAX_ID_LENGTH,
        required=False,
        help_text="Its creator-wide namespace and active twins. Leave empty for the namespaces below.",
    )
    namespaces = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line. Leave both empty for every namespace in the index.",
    )
    queries = forms.IntegerField(
        label="Queries per namespace", min_value=1, max_value=MAX_QUERIES, initial=50
    )
    top_k = forms.IntegerField(min_value=1, max_value=MAX_TOP_K, initial=10)
    seed = forms.IntegerField(min_value=0, initial=0)

    def clean_namespaces(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["namespaces"].splitlines() if line.strip()]


class CompareForm(forms.Form):
    a = forms.IntegerField(label="Report A (before)", min_value=1)
    b = forms.IntegerField(label="Report B (after)", min_value=1)
