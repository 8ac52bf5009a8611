from __future__ import annotations

from typing import Any

from django import forms

from twinadmin.audit.models import AuditEntry


class AuditFilterForm(forms.Form):
    """The auditor pages' filters. Invalid input is an error, never a silently wider filter:
    an export must hold exactly what the auditor asked for."""

    action = forms.CharField(
        required=False, max_length=101, help_text="exact, or a prefix ending in * (twin.delete.*)"
    )
    actor = forms.CharField(required=False, max_length=200, help_text="username, cli:<command> or system")
    creator = forms.CharField(required=False, max_length=100)
    target_type = forms.ChoiceField(
        choices=[("", "any target"), *AuditEntry.TargetType.choices], required=False
    )
    target_id = forms.CharField(required=False, max_length=512)
    outcome = forms.ChoiceField(choices=[("", "any outcome"), *AuditEntry.Outcome.choices], required=False)
    correlation = forms.UUIDField(required=False)
    date_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    before = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    after = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)

    CURSORS = ("before", "after")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or self.cleaned_data
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "The end date is before the start date.")
        return data

    def filters(self) -> dict[str, Any]:
        """Keyword arguments for selectors.audit_entry_filter."""
        data = self.cleaned_data
        return {
            "action": (data["action"] or "").strip().lower(),  # actions are always lowercase
            "actor": (data["actor"] or "").strip(),
            "creator_id": (data["creator"] or "").strip(),
            "target_type": data["target_type"] or "",
            "target_id": (data["target_id"] or "").strip(),
            "outcome": data["outcome"] or "",
            "correlation_id": data["correlation"],
            "date_from": data["date_from"],
            "date_to": data["date_to"],
        }


class AuditExportForm(AuditFilterForm):
    FORMATS = {"csv": "CSV", "jsonl": "JSON Lines"}

    format = forms.ChoiceField(choices=list(FORMATS.items()))


class ReceiptUploadForm(forms.Form):
    MAX_BYTES = 5 * 1024 * 1024  # a receipt is kilobytes; refuse anything near this

    receipt = forms.FileField(label="Receipt (JSON)")

    def clean_receipt(self) -> bytes:
        upload = self.cleaned_data["receipt"]
        if upload.size > self.MAX_BYTES:
            raise forms.ValidationError("That file is far larger than any receipt.")
        return upload.read()
