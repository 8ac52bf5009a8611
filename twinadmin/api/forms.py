from django import forms

from twinadmin.api.models import SCOPES


class ApiClientForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="lowercase letters, digits, '.', '_' and '-'")
    scopes = forms.MultipleChoiceField(choices=SCOPES, widget=forms.CheckboxSelectMultiple)


class DeliveryFilterForm(forms.Form):
    event = forms.CharField(required=False, max_length=40)
    page = forms.IntegerField(required=False, min_value=1, max_value=10_000)
