from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from consult.models import Consultation, Priority, SlaPolicy, Subspecialty


def study_label(study) -> str:  # noqa: ANN001
    """How a study is named among the choices (the form and the list after an upload)."""
    return (
        f"{study.study_date or ''} {study.modalities} {study.description} · "
        f"{study.number_of_instances}"
    )


class ConsultationForm(forms.ModelForm):
    studies = forms.ModelMultipleChoiceField(
        queryset=None,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label=_("Studies to read"),
    )

    class Meta:
        model = Consultation
        fields = [
            "subspecialty",
            "priority",
            "urgent_reason",
            "clinical_history",
            "question",
            "studies",
        ]
        widgets = {
            "clinical_history": forms.Textarea(attrs={"rows": 5}),
            "question": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, studies_qs=None, **kwargs) -> None:  # noqa: ANN001
        super().__init__(*args, **kwargs)
        self.fields["studies"].queryset = studies_qs
        self.fields["studies"].label_from_instance = study_label
        self.fields["subspecialty"].choices = Subspecialty.choices
        self.fields["priority"].choices = Priority.choices


class ReassignForm(forms.Form):
    specialist = forms.ModelChoiceField(
        queryset=None,
        required=False,
        label=_("New specialist"),
        empty_label=_("— unassigned queue —"),
    )
    reason = forms.CharField(label=_("Reason"), max_length=300)


class SlaPolicyForm(forms.ModelForm):
    class Meta:
        model = SlaPolicy
        fields = ["target_seconds", "breach_seconds", "remind_percent", "repeat_seconds"]

    def clean(self) -> dict:
        data = super().clean()
        if (
            data.get("target_seconds")
            and data.get("breach_seconds")
            and (data["breach_seconds"] <= data["target_seconds"])
        ):
            raise forms.ValidationError(_("The breach time must come after the target time."))
        return data
