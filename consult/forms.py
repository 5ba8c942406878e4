from __future__ import annotations

from django import forms
from django.contrib.auth import password_validation
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from consult.models import (
    MAX_WEIGHT_KG,
    MIN_WEIGHT_KG,
    AllergyStatus,
    Department,
    Guardian,
    Hospital,
    OnCallShift,
    Patient,
    Role,
    Sex,
    Subspecialty,
    User,
)
from core.models import AuditEvent


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs) -> None:  # noqa: ANN003
        super().__init__(format="%Y-%m-%d", **kwargs)


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs) -> None:  # noqa: ANN003
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


class HospitalForm(forms.ModelForm):
    class Meta:
        model = Hospital
        fields = [
            "code",
            "name_zh",
            "name_en",
            "tier",
            "province",
            "city",
            "county",
            "phone",
            "is_active",
            "share_reports_with_guardians",
        ]


class DepartmentForm(forms.ModelForm):
    class Meta:
        model = Department
        fields = [
            "hospital",
            "name_zh",
            "name_en",
            "phone",
            "accepts_referrals",
            "head",
            "is_active",
        ]

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.fields["hospital"].queryset = Hospital.objects.filter(is_active=True)
        self.fields["head"].queryset = User.objects.filter(is_active=True).exclude(role=Role.ADMIN)


class UserForm(forms.ModelForm):
    password = forms.CharField(
        label=_("password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Required for a new user; leave empty to keep the current password."),
    )
    subspecialties = forms.MultipleChoiceField(
        label=_("subspecialties"),
        choices=Subspecialty.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("For specialists only."),
    )

    class Meta:
        model = User
        fields = [
            "username",
            "full_name",
            "email",
            "mobile",
            "role",
            "hospital",
            "department",
            "is_active",
        ]

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.fields["role"].required = True
        self.fields["full_name"].required = True
        self.fields["department"].queryset = Department.objects.select_related("hospital")
        if self.instance.pk:
            self.fields["subspecialties"].initial = list(
                self.instance.subspecialties.values_list("subspecialty", flat=True)
            )

    def clean_password(self) -> str:
        password = self.cleaned_data.get("password", "")
        if not self.instance.pk and not password:
            raise forms.ValidationError(_("A new user needs a password."))
        if password:
            password_validation.validate_password(password, self.instance)
        return password

    def clean(self) -> dict:
        data = super().clean()
        role, hospital = data.get("role"), data.get("hospital")
        if role and role != Role.ADMIN and hospital is None:
            self.add_error("hospital", _("A user with this role must belong to a hospital."))
        department = data.get("department")
        if (
            department is not None
            and hospital is not None
            and department.hospital_id != hospital.pk
        ):
            self.add_error("department", _("The department must belong to the user's hospital."))
        return data


class OnCallShiftForm(forms.ModelForm):
    class Meta:
        model = OnCallShift
        fields = ["specialist", "subspecialty", "start", "end"]
        widgets = {"start": DateTimeInput(), "end": DateTimeInput()}

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.fields["specialist"].queryset = User.objects.filter(
            role=Role.SPECIALIST, is_active=True
        )

    def clean(self) -> dict:
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and end <= start:
            self.add_error("end", _("The shift must end after it starts."))
        specialist, subspecialty = data.get("specialist"), data.get("subspecialty")
        if (
            specialist
            and subspecialty
            and not specialist.subspecialties.filter(subspecialty=subspecialty).exists()
        ):
            self.add_error(
                "subspecialty", _("This specialist does not practise this subspecialty.")
            )
        return data


class PatientForm(forms.ModelForm):
    mrn = forms.CharField(label=_("MRN at your hospital"), max_length=64)
    weight_kg = forms.DecimalField(
        label=_("weight (kg)"),
        required=False,
        max_digits=5,
        decimal_places=2,
        validators=[MinValueValidator(MIN_WEIGHT_KG), MaxValueValidator(MAX_WEIGHT_KG)],
        error_messages={
            "min_value": _("A child's weight must be at least 0.3 kg."),
            "max_value": _("A child's weight must be at most 150 kg."),
        },
    )
    weighed_on = forms.DateField(label=_("weighed on"), required=False, widget=DateInput())
    national_id = forms.CharField(
        label=_("national or insurance ID"),
        required=False,
        max_length=32,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=_(
            "Optional. Stored only as a keyed fingerprint for matching across hospitals; "
            "never shown again."
        ),
    )
    hospital = forms.ModelChoiceField(
        label=_("hospital"),
        queryset=Hospital.objects.filter(is_active=True),
        error_messages={"invalid_choice": _("Unknown hospital.")},
    )

    class Meta:
        model = Patient
        fields = ["name", "sex", "birth_date", "allergy_status", "allergies"]
        widgets = {
            "birth_date": DateInput(),
            "sex": forms.RadioSelect,
            "allergy_status": forms.RadioSelect,
        }
        labels = {"allergy_status": _("Allergies"), "allergies": _("Allergies (list)")}
        help_texts = {"allergies": _("Only with “Allergies:”, e.g. penicillin (rash).")}

    # A doctor says which of the three it is; nothing typed or left blank is taken to mean
    # "no known allergies". The rule itself is Patient.clean (run by this ModelForm).
    ALLERGY_CHOICES = [
        (AllergyStatus.NOT_RECORDED, _("Not asked yet")),
        (AllergyStatus.NONE_KNOWN, _("No known allergies")),
        (AllergyStatus.LISTED, _("Allergies:")),
    ]

    def __init__(self, *args, user: User, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.fields["sex"].choices = Sex.choices
        self.fields["allergy_status"].choices = self.ALLERGY_CHOICES
        if user.role != Role.ADMIN:
            # A doctor registers children at their own hospital only.
            del self.fields["hospital"]
        if self.instance.pk:
            del self.fields["mrn"]
            self.fields["weight_kg"].label = _("new weight (kg)")

    def clean_birth_date(self):  # noqa: ANN201
        birth_date = self.cleaned_data["birth_date"]
        if birth_date > timezone.localdate():
            raise forms.ValidationError(_("The date of birth cannot be in the future."))
        return birth_date

    def clean(self) -> dict:
        data = super().clean()
        if data.get("weight_kg") is not None and not data.get("weighed_on"):
            data["weighed_on"] = timezone.localdate()
        weighed_on, birth_date = data.get("weighed_on"), data.get("birth_date")
        if weighed_on and weighed_on > timezone.localdate():
            self.add_error("weighed_on", _("The weighing date cannot be in the future."))
        elif weighed_on and birth_date and weighed_on < birth_date:
            self.add_error("weighed_on", _("The weighing date cannot be before birth."))
        return data


class GuardianForm(forms.ModelForm):
    class Meta:
        model = Guardian
        fields = ["name", "relation", "mobile"]
        widgets = {"mobile": forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"})}


GuardianFormSet = forms.inlineformset_factory(
    Patient,
    Guardian,
    form=GuardianForm,
    extra=1,
    min_num=1,
    validate_min=True,
    can_delete=True,
)


class AuditSearchForm(forms.Form):
    patient = forms.IntegerField(label=_("child (id)"), required=False, min_value=1)
    child_name = forms.CharField(label=_("child's name"), required=False, max_length=100)
    user = forms.CharField(label=_("user (username)"), required=False, max_length=150)
    hospital = forms.ModelChoiceField(
        label=_("hospital"), queryset=Hospital.objects.all(), required=False
    )
    action = forms.ChoiceField(
        label=_("action"),
        choices=[("", "---------"), *AuditEvent.Action.choices],
        required=False,
    )
    date_from = forms.DateField(label=_("from"), required=False, widget=DateInput())
    date_to = forms.DateField(label=_("to"), required=False, widget=DateInput())

    def clean(self) -> dict:
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_to"] < data["date_from"]:
            self.add_error("date_to", _("The end date is before the start date."))
        return data
