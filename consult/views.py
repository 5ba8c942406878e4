"""HTML pages of the alliance directory, children and the audit trail. Thin: forms in,
services and selectors do the work."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.core.validators import validate_ipv46_address
from django.db import transaction
from django.db.models import Count, Prefetch, Q
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views import View

from consult import services
from consult import two_factor as tf
from consult.forms import (
    AuditSearchForm,
    DepartmentForm,
    GuardianFormSet,
    HospitalForm,
    OnCallShiftForm,
    PatientForm,
    UserForm,
)
from consult.models import (
    Department,
    Hospital,
    OnCallShift,
    Patient,
    Role,
    SecurityPolicy,
    SpecialistSubspecialty,
    Tier,
    User,
)
from consult.selectors import (
    audit_events_visible_to,
    get_patient_for,
    patients_visible_to,
    users_visible_to,
)
from core.audit import AuditContext, audit_denied
from viewer.selectors import studies_for_patient

PAGE_SIZE = 50

ROLE_HOMES = {
    Role.REFERRING_DOCTOR: "consult/home_referring.html",
    Role.SPECIALIST: "consult/home_specialist.html",
    Role.COORDINATOR: "consult/home_coordinator.html",
    Role.ADMIN: "consult/home_admin.html",
}


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Each role lands on the page that says what it does next."""
    return render(request, ROLE_HOMES[request.user.role], {})


class RoleRequiredMixin(LoginRequiredMixin):
    """Only the listed roles; anyone else gets 403 and a denied audit row."""

    roles: tuple[str, ...] = (Role.ADMIN,)
    object_type = "page"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated and request.user.role not in self.roles:
            audit_denied(request, object_type=self.object_type, object_id=request.path[:128])
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)


def _page(request: HttpRequest, queryset: Any) -> Any:
    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))


class DirectoryEditView(RoleRequiredMixin, View):
    """Create or edit one directory row through `services.directory_save`."""

    model: type
    form_class: type
    template_name = "consult/directory_form.html"
    title = ""
    list_url_name = "hospital-list"

    def get_object(self) -> Any:
        pk = self.kwargs.get("pk")
        return get_object_or_404(self.model, pk=pk) if pk else None

    def get_form(self, data: Any = None) -> Any:
        return self.form_class(data, instance=self.get_object())

    def success_url(self, obj: Any) -> str:
        raise NotImplementedError

    def cancel_url(self, obj: Any) -> str:
        """Where Cancel goes (a plain link: no script under the Content-Security-Policy):
        the row's page, or the list for a new row."""
        return self.success_url(obj) if obj.pk else reverse(self.list_url_name)

    def get(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        return self.render_form(self.get_form())

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        form = self.get_form(request.POST)
        if form.is_valid():
            try:
                obj = self.save(form)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, _("Saved."))
                return redirect(self.success_url(obj))
        return self.render_form(form, status=400)

    def save(self, form: Any) -> Any:
        return services.directory_save(
            actor=self.request.user,
            obj=form.save(commit=False),
            context=AuditContext.from_request(self.request),
        )

    def render_form(self, form: Any, status: int = 200) -> HttpResponse:
        context = {
            "form": form,
            "title": self.title,
            "object": form.instance,
            "cancel_url": self.cancel_url(form.instance),
        }
        return render(self.request, self.template_name, context, status=status)


# Hospitals and departments ---------------------------------------------------


class HospitalListView(RoleRequiredMixin, View):
    object_type = "hospital"

    def get(self, request: HttpRequest) -> HttpResponse:
        hospitals = Hospital.objects.annotate(
            n_departments=Count("departments", distinct=True),
            n_users=Count("users", distinct=True),
        ).order_by("tier", "code")
        q = request.GET.get("q", "").strip()
        if q:
            hospitals = hospitals.filter(
                Q(name_zh__icontains=q) | Q(name_en__icontains=q) | Q(code__icontains=q)
            )
        tier = request.GET.get("tier", "")
        if tier in Tier.values:
            hospitals = hospitals.filter(tier=tier)
        context = {"page": _page(request, hospitals), "q": q, "tier": tier, "tiers": Tier.choices}
        return render(request, "consult/hospital_list.html", context)


class HospitalEditView(DirectoryEditView):
    model = Hospital
    form_class = HospitalForm
    object_type = "hospital"

    @property
    def title(self) -> str:  # type: ignore[override]
        return _("Edit hospital") if self.kwargs.get("pk") else _("New hospital")

    def success_url(self, obj: Hospital) -> str:
        return reverse("hospital-detail", args=[obj.pk])


class HospitalDetailView(RoleRequiredMixin, View):
    object_type = "hospital"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        hospital = get_object_or_404(Hospital, pk=pk)
        departments = hospital.departments.select_related("head")
        users = hospital.users.order_by("role", "username")
        return render(
            request,
            "consult/hospital_detail.html",
            {"hospital": hospital, "departments": departments, "users": users},
        )


class DepartmentEditView(DirectoryEditView):
    model = Department
    form_class = DepartmentForm
    object_type = "department"

    @property
    def title(self) -> str:  # type: ignore[override]
        return _("Edit department") if self.kwargs.get("pk") else _("New department")

    def get_form(self, data: Any = None) -> Any:
        initial = {"hospital": self.request.GET.get("hospital")}
        return self.form_class(data, instance=self.get_object(), initial=initial)

    def success_url(self, obj: Department) -> str:
        return reverse("hospital-detail", args=[obj.hospital_id])


# Users -------------------------------------------------------------------------


class UserListView(RoleRequiredMixin, View):
    object_type = "user"

    def get(self, request: HttpRequest) -> HttpResponse:
        users = (
            users_visible_to(request.user)
            .select_related("hospital", "department")
            .prefetch_related(
                Prefetch("subspecialties", queryset=SpecialistSubspecialty.objects.all())
            )
            .order_by("role", "username")
        )
        q = request.GET.get("q", "").strip()
        if q:
            users = users.filter(Q(username__icontains=q) | Q(full_name__icontains=q))
        role = request.GET.get("role", "")
        if role in Role.values:
            users = users.filter(role=role)
        locks = tf.login_locks()
        context = {
            "page": _page(request, users),
            "q": q,
            "role": role,
            "roles": Role.choices,
            "locks": locks,
            "locked_usernames": {lock["username"] for lock in locks},
        }
        return render(request, "consult/user_list.html", context)


class UserEditView(DirectoryEditView):
    model = User
    form_class = UserForm
    object_type = "user"
    list_url_name = "user-list"

    @property
    def title(self) -> str:  # type: ignore[override]
        return _("Edit user") if self.kwargs.get("pk") else _("New user")

    def get_form(self, data: Any = None) -> Any:
        initial = {"hospital": self.request.GET.get("hospital")}
        return self.form_class(data, instance=self.get_object(), initial=initial)

    def save(self, form: UserForm) -> User:
        return services.user_save(
            actor=self.request.user,
            user=form.save(commit=False),
            password=form.cleaned_data.get("password") or None,
            subspecialties=form.cleaned_data.get("subspecialties", []),
            context=AuditContext.from_request(self.request),
        )

    def success_url(self, obj: User) -> str:
        return reverse("user-list")

    def render_form(self, form: Any, status: int = 200) -> HttpResponse:
        user = form.instance
        context = {"form": form, "title": self.title, "object": user}
        if user.pk:
            context["security"] = {
                "locked": tf.username_locked(user.username),
                "authenticator": tf.totp_device(user) is not None,
                "backup_codes": tf.backup_codes_left(user),
                "required": tf.second_factor_required(user),
            }
        return render(self.request, self.template_name, context, status=status)


class LoginUnlockView(RoleRequiredMixin, View):
    """Lift a login lockout, by account and/or by address (audited)."""

    object_type = "user"

    def post(self, request: HttpRequest) -> HttpResponse:
        username = request.POST.get("username", "").strip()[:150]
        ip_address = request.POST.get("ip_address", "").strip()
        try:
            if ip_address:
                validate_ipv46_address(ip_address)
        except ValidationError:
            return HttpResponseBadRequest(_("Not an IP address."))
        if not username and not ip_address:
            return HttpResponseBadRequest(_("Say which account or address to unlock."))
        tf.login_unlock(
            actor=request.user, username=username, ip_address=ip_address, request=request
        )
        messages.success(request, _("Login lock lifted."))
        back = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
            back = reverse("user-list")
        return redirect(back)


class UserSecondFactorResetView(RoleRequiredMixin, View):
    """Remove a user's authenticator, backup and SMS devices (lost phone); audited."""

    object_type = "user"

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        user = get_object_or_404(users_visible_to(request.user), pk=pk)
        tf.second_factor_reset(actor=request.user, user=user, request=request)
        messages.success(
            request, _("Two-factor login reset: the user sets up the app again at next login.")
        )
        return redirect("user-edit", pk=user.pk)


class SecuritySettingsView(RoleRequiredMixin, View):
    """The alliance's login security policy."""

    object_type = "securitypolicy"

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(
            request, "consult/security_settings.html", {"policy": SecurityPolicy.current()}
        )

    def post(self, request: HttpRequest) -> HttpResponse:
        tf.security_policy_update(
            actor=request.user,
            referring_doctors_need_second_factor=request.POST.get("referring_doctors") == "on",
            request=request,
        )
        messages.success(request, _("Security settings saved."))
        return redirect("security-settings")


# On-call roster ----------------------------------------------------------------

ROSTER_ROLES = (Role.ADMIN, Role.COORDINATOR)


class RosterView(RoleRequiredMixin, View):
    roles = ROSTER_ROLES
    object_type = "oncallshift"

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render_page(OnCallShiftForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        form = OnCallShiftForm(request.POST)
        if form.is_valid():
            services.directory_save(
                actor=request.user,
                obj=form.save(commit=False),
                context=AuditContext.from_request(request),
            )
            messages.success(request, _("Shift added to the roster."))
            return redirect("roster-list")
        return self.render_page(form, status=400)

    def render_page(self, form: OnCallShiftForm, status: int = 200) -> HttpResponse:
        shifts = (
            OnCallShift.objects.filter(end__gte=timezone.now())
            .select_related("specialist", "specialist__hospital")
            .order_by("start", "subspecialty")
        )
        subspecialty = self.request.GET.get("subspecialty", "")
        if subspecialty:
            shifts = shifts.filter(subspecialty=subspecialty)
        context = {"form": form, "page": _page(self.request, shifts), "now": timezone.now()}
        return render(self.request, "consult/roster.html", context, status=status)


class RosterDeleteView(RoleRequiredMixin, View):
    roles = ROSTER_ROLES
    object_type = "oncallshift"

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        shift = get_object_or_404(OnCallShift, pk=pk)
        services.shift_delete(
            actor=request.user, shift=shift, context=AuditContext.from_request(request)
        )
        messages.success(request, _("Shift removed from the roster."))
        return redirect("roster-list")


# Children ------------------------------------------------------------------------

PATIENT_ROLES = (Role.REFERRING_DOCTOR, Role.ADMIN, Role.SPECIALIST, Role.COORDINATOR)


class PatientListView(LoginRequiredMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        patients = (
            patients_visible_to(request.user)
            .select_related("home_hospital")
            .prefetch_related("identifiers__hospital")
            .order_by("-created_at")
        )
        q = request.GET.get("q", "").strip()
        if q:
            patients = patients.filter(Q(name__icontains=q) | Q(identifiers__mrn=q)).distinct()
        context = {"page": _page(request, patients), "q": q, "today": timezone.localdate()}
        return render(request, "consult/patient_list.html", context)


class PatientCreateView(RoleRequiredMixin, View):
    roles = (Role.REFERRING_DOCTOR, Role.ADMIN)
    object_type = "patient"

    def get(self, request: HttpRequest) -> HttpResponse:
        form = PatientForm(user=request.user)
        return self.render_page(form, GuardianFormSet(prefix="guardians"))

    def post(self, request: HttpRequest) -> HttpResponse:
        form = PatientForm(request.POST, user=request.user)
        guardians = GuardianFormSet(request.POST, prefix="guardians")
        existing = None
        if form.is_valid() and guardians.is_valid():
            data = form.cleaned_data
            try:
                patient = services.patient_register(
                    actor=request.user,
                    hospital=data.get("hospital") or request.user.hospital,
                    name=data["name"],
                    sex=data["sex"],
                    birth_date=data["birth_date"],
                    mrn=data["mrn"],
                    weight_kg=data.get("weight_kg"),
                    weighed_on=data.get("weighed_on"),
                    national_id=data.get("national_id", ""),
                    allergy_status=data["allergy_status"],
                    allergies=data.get("allergies", ""),
                    guardians=_guardian_rows(guardians),
                    context=AuditContext.from_request(request),
                )
            except services.DuplicateMRN as exc:
                existing = exc.patient
                form.add_error("mrn", exc.messages[0])
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, _("The child is registered."))
                return redirect("patient-detail", pk=patient.pk)
        return self.render_page(form, guardians, existing=existing, status=400)

    def render_page(
        self, form: PatientForm, guardians: Any, existing: Patient | None = None, status: int = 200
    ) -> HttpResponse:
        context = {"form": form, "guardians": guardians, "existing": existing}
        return render(self.request, "consult/patient_form.html", context, status=status)


def _guardian_rows(formset: Any) -> list[dict[str, str]]:
    return [
        {key: f.cleaned_data.get(key) for key in ("id", "name", "relation", "mobile")}
        for f in formset.forms
        if f.cleaned_data and not f.cleaned_data.get("DELETE")
    ]


class PatientDetailView(LoginRequiredMixin, View):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        patient = get_patient_for(request, pk)
        context = {
            "patient": patient,
            "today": timezone.localdate(),
            "identifiers": patient.identifiers.select_related("hospital"),
            "guardians": patient.guardians.all(),
            "weights": patient.weights.all()[:10],
            "patient_studies": studies_for_patient(request.user, patient),
        }
        return render(request, "consult/patient_detail.html", context)


class PatientEditView(LoginRequiredMixin, View):
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated and request.user.role not in (
            Role.REFERRING_DOCTOR,
            Role.ADMIN,
        ):
            audit_denied(request, object_type="patient", object_id=str(kwargs.get("pk")))
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        patient = get_patient_for(request, pk)
        form = PatientForm(instance=patient, user=request.user, initial=self._initial(patient))
        guardians = GuardianFormSet(instance=patient, prefix="guardians")
        return self.render_page(patient, form, guardians)

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        patient = get_patient_for(request, pk, audit=False)
        form = PatientForm(request.POST, instance=patient, user=request.user)
        guardians = GuardianFormSet(request.POST, instance=patient, prefix="guardians")
        if form.is_valid() and guardians.is_valid():
            data = form.cleaned_data
            with transaction.atomic():
                services.patient_update(
                    actor=request.user,
                    patient=patient,
                    fields={
                        "name": data["name"],
                        "sex": data["sex"],
                        "birth_date": data["birth_date"],
                        "allergy_status": data["allergy_status"],
                        "allergies": data.get("allergies", ""),
                        "national_id": data.get("national_id", ""),
                    },
                    guardians=_guardian_rows(guardians),
                    context=AuditContext.from_request(request),
                )
                if data.get("weight_kg") is not None:
                    services.patient_record_weight(
                        patient=patient, weight_kg=data["weight_kg"], measured_on=data["weighed_on"]
                    )
            messages.success(request, _("Saved."))
            return redirect("patient-detail", pk=patient.pk)
        return self.render_page(patient, form, guardians, status=400)

    @staticmethod
    def _initial(patient: Patient) -> dict[str, Any]:
        return {"hospital": patient.home_hospital_id}

    def render_page(
        self, patient: Patient, form: PatientForm, guardians: Any, status: int = 200
    ) -> HttpResponse:
        context = {"form": form, "guardians": guardians, "patient": patient}
        return render(self.request, "consult/patient_form.html", context, status=status)


# Audit trail ---------------------------------------------------------------------


class AuditListView(RoleRequiredMixin, View):
    object_type = "auditevent"

    def get(self, request: HttpRequest) -> HttpResponse:
        form = AuditSearchForm(request.GET or None)
        events = audit_events_visible_to(request.user).select_related("user", "hospital", "patient")
        if form.is_valid():
            events = _filter_audit(events, form.cleaned_data)
        return render(
            request, "consult/audit_list.html", {"form": form, "page": _page(request, events)}
        )


def _filter_audit(events: Any, data: dict[str, Any]) -> Any:
    if data.get("patient"):
        events = events.filter(patient_id=data["patient"])
    if data.get("child_name"):
        events = events.filter(patient__name__icontains=data["child_name"])
    if data.get("user"):
        events = events.filter(username__iexact=data["user"])
    if data.get("hospital"):
        events = events.filter(hospital=data["hospital"])
    if data.get("action"):
        events = events.filter(action=data["action"])
    if data.get("date_from"):
        events = events.filter(at__date__gte=data["date_from"])
    if data.get("date_to"):
        events = events.filter(at__date__lte=data["date_to"])
    return events
