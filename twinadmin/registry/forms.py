from django import forms

from twinadmin.lib.text import validate_display_text
from twinadmin.registry import codec
from twinadmin.registry.models import Creator, Twin


def _id_field(label: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=codec.MAX_ID_LENGTH,
        help_text=codec.ID_RULES,
        widget=forms.TextInput(attrs={"autocomplete": "off", "pattern": codec.ID_PATTERN}),
    )


class CreatorForm(forms.Form):
    creator_id = _id_field("Creator id")
    display_name = forms.CharField(max_length=200, required=False, validators=[validate_display_text])

    def clean_creator_id(self) -> str:
        value = self.cleaned_data["creator_id"]
        try:
            codec.validate_creator_id(value)
        except codec.InvalidId as exc:
            raise forms.ValidationError(str(exc)) from None
        return value


class TwinForm(forms.Form):
    name = forms.CharField(max_length=200, required=False, validators=[validate_display_text])
    naming = forms.ChoiceField(
        choices=[(c.value, c.label) for c in Twin.Naming if c in Twin.USER_POLICIES], initial=Twin.Naming.UUID
    )

    def clean(self):
        data = super().clean() or self.cleaned_data
        if data.get("naming") == Twin.Naming.SEMANTIC and not (data.get("name") or "").strip():
            self.add_error("name", "The semantic policy derives the twin id from the name: give one.")
        return data


class CreatorSearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=100)
    status = forms.ChoiceField(choices=[("", "any status"), *Creator.Status.choices], required=False)
    page = forms.IntegerField(required=False, min_value=1)


class NamespaceSearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=200)
    kind = forms.ChoiceField(
        choices=[("", "all classes")] + [(k.value, k.value) for k in codec.NamespaceKind], required=False
    )
    page = forms.IntegerField(required=False, min_value=1)


class OrphanRegisterForm(forms.Form):
    namespace = forms.CharField(max_length=codec.MAX_NAMESPACE_LENGTH)
    name = forms.CharField(max_length=200, required=False, validators=[validate_display_text])
