from django import forms


class JobCancelForm(forms.Form):
    reason = forms.CharField(max_length=500)
