from django import forms
from django.utils.translation import gettext_lazy as _

from consult.models import Hospital
from viewer.models import DicomNode


class DicomNodeForm(forms.ModelForm):
    class Meta:
        model = DicomNode
        fields = ["hospital", "ae_title", "allowed_ips", "description"]


class IntegrationTokenForm(forms.Form):
    hospital = forms.ModelChoiceField(Hospital.objects.filter(is_active=True), label=_("hospital"))
    name = forms.CharField(
        label=_("name"), max_length=100, help_text=_("e.g. the PACS vendor and building")
    )


class AssignStudyForm(forms.Form):
    mrn = forms.CharField(
        label=_("The child's medical record number at your hospital"), max_length=64
    )


class PhotoForm(forms.Form):
    KINDS = [("film", _("Photo of film")), ("document", _("Paper report or other picture"))]

    file = forms.FileField(label=_("file"))
    kind = forms.ChoiceField(choices=KINDS, initial="film")
    batch = forms.RegexField(regex=r"^[A-Za-z0-9-]{8,64}$", max_length=64)


class ConflictResolveForm(forms.Form):
    KEEP, REPLACE = "keep", "replace"
    ACTIONS = [
        (KEEP, _("Keep the stored version (discard the new one)")),
        (REPLACE, _("Replace with the new version")),
    ]

    action = forms.ChoiceField(label=_("decision"), choices=ACTIONS)
    reason = forms.CharField(
        label=_("reason"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Recorded with your name and the time, e.g. “modality re-sent after a fix”."),
    )
