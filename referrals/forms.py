"""Forms for the referral pages: input shape only; the rules live in services.py."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from consult.models import Department
from referrals.models import DeclineReason, Transport, Urgency


def receiving_departments() -> forms.models.QuerySet:
    return (
        Department.objects.filter(accepts_referrals=True, is_active=True, hospital__is_active=True)
        .select_related("hospital")
        .order_by("hospital__code", "name_zh")
    )


class DepartmentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Department) -> str:
        return f"{obj.hospital.name} · {obj.name}"


class ReferralRequestForm(forms.Form):
    # Every department is offered so that a refusal can say why; the service checks.
    department = DepartmentChoiceField(
        label=_("Receiving department"),
        queryset=Department.objects.select_related("hospital").order_by("hospital__code"),
    )
    urgency = forms.ChoiceField(label=_("Urgency"), choices=Urgency.choices)
    reason = forms.CharField(label=_("Clinical reason"), widget=forms.Textarea(attrs={"rows": 3}))


class RedirectForm(forms.Form):
    department = DepartmentChoiceField(
        label=_("Another department"), queryset=Department.objects.select_related("hospital")
    )


class DeclineForm(forms.Form):
    reason_code = forms.ChoiceField(label=_("Why"), choices=DeclineReason.choices)
    note = forms.CharField(label=_("Note"), required=False, max_length=400)


class ScheduleForm(forms.Form):
    scheduled_for = forms.DateTimeField(
        label=_("Date and time"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    slot = forms.CharField(label=_("Bed or clinic slot"), required=False, max_length=100)
    report_to = forms.CharField(label=_("Where to report"), max_length=200)
    transport = forms.ChoiceField(label=_("Transport"), choices=Transport.choices)
    what_to_bring = forms.CharField(label=_("What to bring"), required=False, max_length=300)


class CancelForm(forms.Form):
    reason = forms.CharField(label=_("Reason for cancelling"), max_length=500)


class CompleteForm(forms.Form):
    outcome_note = forms.CharField(label=_("Outcome"), widget=forms.Textarea(attrs={"rows": 3}))
