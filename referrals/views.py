"""Referral pages. Thin: a selector to read (404 + denied audit row when not visible), one
service to write, a redirect or a fragment back. Every view of a referral is audited."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Exists, OuterRef, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from consult.audit import Action, audit_record
from consult.consultations.report_pdf import report_pdf
from consult.models import Consultation, Report, Role, User
from consult.refusals import refused_page
from consult.selectors import consultations_visible_to, get_visible_or_404, patients_visible_to
from consult.transitions import TransitionNotAllowed
from referrals import forms
from referrals.models import OPEN_STATUSES, Referral, Status
from referrals.selectors import acts_for_any_department, department_worklist, referrals_visible_to
from referrals.services import (
    ReferralError,
    acts_for_department,
    is_source_side,
    referral_accept,
    referral_arrive,
    referral_cancel,
    referral_complete,
    referral_create,
    referral_decline,
    referral_depart,
    referral_redirect,
    referral_schedule,
)
from referrals.sheet_pdf import transfer_sheet_pdf

LIST_SELECT = (
    "patient",
    "source_hospital",
    "receiving_hospital",
    "receiving_department",
    "source_doctor",
)
BOARD_ORDER = [
    Status.REQUESTED,
    Status.DECLINED,
    Status.ACCEPTED,
    Status.SCHEDULED,
    Status.IN_TRANSIT,
    Status.ARRIVED,
    Status.COMPLETED,
    Status.CANCELLED,
]
CLOSED_SHOWN = 50


def _get(request: HttpRequest, pk: Any) -> Referral:
    return get_visible_or_404(
        request,
        referrals_visible_to(request.user).select_related(*LIST_SELECT, "report", "consultation"),
        pk=pk,
        object_type="referral",
    )


def _audit(request: HttpRequest, referral: Referral, action: str, reason: str = "") -> None:
    audit_record(
        request=request, action=action, obj=referral, patient=referral.patient, reason=reason
    )


# --- lists --------------------------------------------------------------------------------


def _by_state(rows: QuerySet[Referral]) -> list[tuple[str, str, list[Referral]]]:
    """Open referrals per state (deadline first), then the latest closed ones."""
    open_rows = list(
        rows.filter(status__in=OPEN_STATUSES).order_by("due_at", "scheduled_for", "requested_at")
    )
    closed = list(rows.exclude(status__in=OPEN_STATUSES).order_by("-closed_at")[:CLOSED_SHOWN])
    groups = []
    for status in BOARD_ORDER:
        members = [r for r in open_rows + closed if r.status == status]
        if members:
            groups.append((Status(status).label, status, members))
    return groups


def recommended_not_requested() -> QuerySet[Consultation]:
    """Consultations whose signed report recommends a transfer that nobody has requested yet."""
    return (
        Consultation.objects.filter(
            Exists(
                Report.objects.filter(
                    consultation=OuterRef("pk"),
                    status=Report.Status.SIGNED,
                    transfer_recommended=True,
                )
            )
        )
        .exclude(Exists(Referral.objects.filter(consultation=OuterRef("pk"))))
        .select_related("patient", "hospital")
        .order_by("-reported_at")[:50]
    )


def list_context(user: User) -> dict[str, Any]:
    context: dict[str, Any] = {"role": user.role}
    visible = referrals_visible_to(user).select_related(*LIST_SELECT)
    if user.role in (Role.COORDINATOR, Role.ADMIN):
        context["board"] = _by_state(visible)
        context["recommended"] = list(recommended_not_requested())
    if acts_for_any_department(user):
        context["worklist"] = list(department_worklist(user).select_related(*LIST_SELECT))
    if user.role == Role.REFERRING_DOCTOR:
        context["own"] = _by_state(visible.filter(source_hospital_id=user.hospital_id))
    return context


@login_required
def referral_list(request: HttpRequest) -> HttpResponse:
    """Coordinators: the board by state and deadline. Receiving departments: their worklist.
    Referring doctors: their hospital's referrals."""
    context = list_context(request.user)
    if not any(k in context for k in ("board", "worklist", "own")):
        raise Http404
    # The lists show children's names: one audit row per page view.
    audit_record(request=request, action=Action.VIEW, object_type="referral_list")
    fragment = request.GET.get("fragment")
    template = "referrals/_lists.html" if fragment else "referrals/list.html"
    return render(request, template, context)


# --- requesting ---------------------------------------------------------------------------


@login_required
def referral_new(request: HttpRequest) -> HttpResponse:
    """Request a transfer from a consultation (?consultation=) or, for a coordinator, for a
    child directly (?patient=)."""
    consultation = patient = None
    if request.GET.get("consultation"):
        consultation = get_visible_or_404(
            request,
            consultations_visible_to(request.user).select_related("patient", "hospital"),
            pk=request.GET["consultation"],
            object_type="consultation",
        )
        patient = consultation.patient
    elif request.GET.get("patient") and request.user.role == Role.COORDINATOR:
        patient = get_visible_or_404(
            request,
            patients_visible_to(request.user),
            pk=request.GET["patient"],
            object_type="patient",
        )
    else:
        raise Http404
    report = None
    if consultation is not None:
        report = (
            consultation.reports.filter(status=Report.Status.SIGNED).order_by("-version").first()
        )
    initial = {"urgency": report.transfer_urgency} if report and report.transfer_urgency else {}
    form = forms.ReferralRequestForm(request.POST or None, initial=initial)
    # Offer the departments that take referrals; validate against all, so that a stale
    # choice (the department stopped accepting meanwhile) gets the service's clear refusal.
    field = form.fields["department"]
    field.choices = [("", "---------")] + [
        (d.pk, field.label_from_instance(d)) for d in forms.receiving_departments()
    ]
    if request.method == "POST" and form.is_valid():
        try:
            referral = referral_create(
                user=request.user,
                department=form.cleaned_data["department"],
                urgency=form.cleaned_data["urgency"],
                reason=form.cleaned_data["reason"],
                consultation=consultation,
                patient=patient,
            )
        except ReferralError as exc:
            form.add_error(None, str(exc))
        else:
            _audit(request, referral, Action.CREATE)
            messages.success(request, _("Transfer requested."))
            return redirect("referrals:detail", pk=referral.pk)
    context = {"form": form, "consultation": consultation, "patient": patient, "report": report}
    return render(request, "referrals/new.html", context)


# --- one referral -------------------------------------------------------------------------


def detail_context(request: HttpRequest, referral: Referral) -> dict[str, Any]:
    user = request.user
    department_side = acts_for_department(user, referral.receiving_department)
    schedule_initial = {
        "scheduled_for": referral.scheduled_for,
        "slot": referral.slot,
        "report_to": referral.report_to,
        "transport": referral.transport,
        "what_to_bring": referral.what_to_bring,
    }
    redirect_form = forms.RedirectForm()
    redirect_form.fields["department"].queryset = forms.receiving_departments().exclude(
        pk=referral.receiving_department_id
    )
    return {
        "r": referral,
        "events": referral.events.select_related("actor", "department"),
        "studies": referral.studies.all(),
        "department_side": department_side,
        "source_side": is_source_side(user, referral),
        "is_coordinator": user.role == Role.COORDINATOR,
        "can_cancel": referral.status not in (Status.ARRIVED, Status.COMPLETED, Status.CANCELLED)
        and (is_source_side(user, referral) or user.role == Role.COORDINATOR),
        "decline_form": forms.DeclineForm(),
        "schedule_form": forms.ScheduleForm(initial=schedule_initial),
        "cancel_form": forms.CancelForm(),
        "complete_form": forms.CompleteForm(),
        "redirect_form": redirect_form,
    }


@login_required
def referral_detail(request: HttpRequest, pk: int) -> HttpResponse:
    referral = _get(request, pk)
    _audit(request, referral, Action.VIEW)
    return render(request, "referrals/detail.html", detail_context(request, referral))


@login_required
def referral_live_fragment(request: HttpRequest, pk: int) -> HttpResponse:
    """The status, schedule, actions and timeline block, refetched on websocket pushes."""
    referral = _get(request, pk)
    _audit(request, referral, Action.VIEW, reason="live refresh")
    return render(request, "referrals/_live.html", detail_context(request, referral))


@login_required
def referral_sheet(request: HttpRequest, pk: int) -> HttpResponse:
    referral = _get(request, pk)
    _audit(request, referral, Action.EXPORT, reason="transfer sheet")
    response = HttpResponse(transfer_sheet_pdf(referral), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="transfer-{referral.pk}.pdf"'
    return response


@login_required
def referral_report(request: HttpRequest, pk: int) -> HttpResponse:
    """The consultation report attached to the referral (readable by the receiving side)."""
    referral = _get(request, pk)
    if referral.report is None:
        raise Http404
    _audit(request, referral, Action.EXPORT, reason="attached report")
    response = HttpResponse(report_pdf(referral.report), content_type="application/pdf")
    response["Content-Disposition"] = (
        f'inline; filename="report-{referral.report.consultation_id}.pdf"'
    )
    return response


# --- actions ------------------------------------------------------------------------------


def _with_form(form_class: type, service: Callable[..., Any]) -> Callable:
    def run(request: HttpRequest, referral: Referral) -> None:
        form = form_class(request.POST)
        if form.is_valid():
            service(referral=referral, user=request.user, **form.cleaned_data)
            return
        errors = "; ".join(str(e) for errs in form.errors.values() for e in errs)
        raise ReferralError(errors)

    return run


ACTIONS: dict[str, tuple[Callable, str]] = {
    "accept": (lambda req, r: referral_accept(referral=r, user=req.user), "accepted"),
    "decline": (_with_form(forms.DeclineForm, referral_decline), "declined"),
    "redirect": (_with_form(forms.RedirectForm, referral_redirect), "redirected"),
    "schedule": (_with_form(forms.ScheduleForm, referral_schedule), "scheduled"),
    "depart": (lambda req, r: referral_depart(referral=r, user=req.user), "in transit"),
    "arrive": (lambda req, r: referral_arrive(referral=r, user=req.user), "arrived"),
    "complete": (_with_form(forms.CompleteForm, referral_complete), "completed"),
    "cancel": (_with_form(forms.CancelForm, referral_cancel), "cancelled"),
}


@require_POST
@login_required
def referral_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Run one service on a visible referral. An action the workflow table refuses (the state,
    or the person) answers 409/403 with the reason; any other refusal is shown as a message."""
    if action not in ACTIONS:
        raise Http404
    referral = _get(request, pk)
    run, done = ACTIONS[action]
    try:
        run(request, referral)
    except TransitionNotAllowed as exc:
        back = reverse("referrals:detail", args=[referral.pk])
        return refused_page(request, exc, obj=referral, patient=referral.patient, back=back)
    except ReferralError as exc:
        messages.error(request, str(exc))
    else:
        _audit(request, referral, Action.UPDATE, reason=done)
        messages.success(request, _("Saved."))
    return redirect("referrals:detail", pk=referral.pk)
