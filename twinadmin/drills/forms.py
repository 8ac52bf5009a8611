from django import forms

from twinadmin.registry import codec


class DecisionForm(forms.Form):
    creator = forms.CharField(max_length=codec.MAX_ID_LENGTH)
    reason = forms.CharField(max_length=500, required=False)

    def clean_creator(self) -> str:
        value = self.cleaned_data["creator"].strip()
        if not codec.is_valid_id(value):
            raise forms.ValidationError(f"Invalid creator id: {codec.ID_RULES}.")
        return value


class StartFreshForm(DecisionForm):
    """Start fresh erases the creator: the operator types its id, which the erasure service
    compares with the creator's (the same rule as every other erasure form)."""

    confirm = forms.CharField(max_length=codec.MAX_ID_LENGTH)
