from django import forms

_CONFIRM_ATTRS = {"autocomplete": "off", "spellcheck": "false"}


class TwinDeleteForm(forms.Form):
    confirm = forms.CharField(
        label="Type the twin id to confirm", max_length=200, widget=forms.TextInput(attrs=_CONFIRM_ATTRS)
    )
    reason = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class ErasureRequestForm(forms.Form):
    reason = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))
    ticket_reference = forms.CharField(
        label="External ticket reference", max_length=200, required=False, help_text="e.g. the DSAR ticket"
    )
    confirm = forms.CharField(
        label="Type the creator id to confirm", max_length=200, widget=forms.TextInput(attrs=_CONFIRM_ATTRS)
    )


class ApproveForm(forms.Form):
    confirm = forms.CharField(
        label="Type the creator id to approve", max_length=200, widget=forms.TextInput(attrs=_CONFIRM_ATTRS)
    )
    # The digest of the scope shown on the page: approval is of what was seen.
    scope_digest = forms.CharField(max_length=64, widget=forms.HiddenInput)


class RejectForm(forms.Form):
    note = forms.CharField(
        label="Why it is rejected", max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )


class RequestFilterForm(forms.Form):
    STATES = [("open", "Awaiting approval"), ("approved", "Approved"), ("done", "Done"), ("all", "All")]

    state = forms.ChoiceField(choices=STATES, required=False)
    page = forms.IntegerField(required=False, min_value=1)
