from __future__ import annotations

from typing import Any

from django import forms

from migrations_app.models import NamespaceMigration
from migrations_app.selectors import legacy_namespace_choices
from twinadmin.registry import codec


class PlanForm(forms.Form):
    creator_id = forms.CharField(
        label="Target creator",
        max_length=codec.MAX_ID_LENGTH,
        initial="sainath.no.1",
        help_text=codec.ID_RULES,
        widget=forms.TextInput(attrs={"autocomplete": "off", "pattern": codec.ID_PATTERN}),
    )
    create_creator = forms.BooleanField(
        required=False, label="Create the creator if it does not exist (I confirm)"
    )
    namespaces = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every legacy namespace in the index (as of the last index refresh).",
    )
    default_policy = forms.ChoiceField(
        label="__default__", choices=NamespaceMigration.DefaultPolicy.choices, initial="creator"
    )
    naming = forms.ChoiceField(label="Twin ids", choices=NamespaceMigration.Naming.choices, initial="uuid")
    delete_source = forms.BooleanField(
        required=False, label="Delete each source namespace once its copy is verified"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["namespaces"].choices = legacy_namespace_choices()  # type: ignore[attr-defined]

    def clean_creator_id(self) -> str:
        value = self.cleaned_data["creator_id"]
        try:
            return codec.validate_creator_id(value)
        except codec.InvalidId as exc:
            raise forms.ValidationError(str(exc)) from None

    def plan_args(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "creator_id": data["creator_id"],
            "namespaces": data["namespaces"] or None,
            "default_policy": data["default_policy"],
            "naming": data["naming"],
            "delete_source": data["delete_source"],
            "create_creator": data["create_creator"],
        }


class DiscoverForm(forms.Form):
    kind = forms.ChoiceField(
        required=False, choices=[("", "all classes")] + [(k.value, k.value) for k in codec.NamespaceKind]
    )
    page = forms.IntegerField(required=False, min_value=1)


class CancelForm(forms.Form):
    """Every cancellation says why (it is audited with the reason)."""

    reason = forms.CharField(max_length=500, strip=True)
