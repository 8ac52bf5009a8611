from __future__ import annotations

from django import forms


class CodeForm(forms.Form):
    """A six-digit code from an authenticator app; spaces (as apps show it, "123 456") ignored."""

    code = forms.CharField(
        label="Code from your authenticator app",
        max_length=12,
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "spellcheck": "false"}
        ),
    )

    def clean_code(self) -> str:
        code = "".join(self.cleaned_data["code"].split())
        if len(code) != 6 or not code.isascii() or not code.isdigit():
            raise forms.ValidationError("Enter the six digits your authenticator app shows.")
        return code
