"""Referral pages. Thin: a selector to read (404 + denied audit row when not visible), one
service to write (it writes the change's audit row), a redirect or a fragment back. Every
view of a referral is audited here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms as django_forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from consult.consultations.report_pdf import report_pdf
from consult.models import Role
from consult.selectors import consultations_visible_to, get_visible_or_404, patients_visible_to
from core.audit import Action, AuditContext, audit_record
from core.refusals import refused_page
from core.transitions import TransitionNotAllowed
from referrals import forms, services
from referrals.models import Referral
from referrals.selectors import (
    latest_signed_report,
    referral_detail_context,
    referral_lists,
    referrals_for_pages,
)
from referrals.sheet_pdf import transfer_sheet_pdf


def _get(request: HttpRequest, pk: Any) -> Referral:
    return get_visible_or_404(
        request, referrals_for_pages(request.user), pk=pk, object_type="referral"
    )


def _audit_view(request: HttpRequest, referral: Referral, action: str, reason: str = "") -> None:
    """A read of the referral (the page, the sheet, the report): one audit row per view."""
    audit_record(
        request=request, action=action, obj=referral, patient=referral.patient, reason=reason
    )


# --- lists --------------------------------------------------------------------------------


@login_required
def referral_list(request: HttpRequest) -> HttpResponse:
    """Coordinators: the board by state and deadline. Receiving departments: their worklist.
    Referring doctors: their hospital's referrals."""
    context = referral_lists(request.user)
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
    report = latest_signed_report(consultation) if consultation is not None else None
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
            referral = services.referral_create(
                actor=request.user,
                context=AuditContext.from_request(request),
                department=form.cleaned_data["department"],
                urgency=form.cleaned_data["urgency"],
                reason=form.cleaned_data["reason"],
                consultation=consultation,
                patient=patient,
            )
        except services.ReferralError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Transfer requested."))
            return redirect("referrals:detail", pk=referral.pk)
    context = {"form": form, "consultation": consultation, "patient": patient, "report": report}
    return render(request, "referrals/new.html", context)


# --- one referral -------------------------------------------------------------------------


def detail_context(request: HttpRequest, referral: Referral) -> dict[str, Any]:
    """The selector's reads, and the forms of the actions offered on the page."""
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
        **referral_detail_context(request.user, referral),
        "decline_form": forms.DeclineForm(),
        "schedule_form": forms.ScheduleForm(initial=schedule_initial),
        "cancel_form": forms.CancelForm(),
        "complete_form": forms.CompleteForm(),
        "redirect_form": redirect_form,
    }


@login_required
def referral_detail(request: HttpRequest, pk: int) -> HttpResponse:
    referral = _get(request, pk)
    _audit_view(request, referral, Action.VIEW)
    return render(request, "referrals/detail.html", detail_context(request, referral))


@login_required
def referral_live_fragment(request: HttpRequest, pk: int) -> HttpResponse:
    """The status, schedule, actions and timeline block, refetched on websocket pushes."""
    referral = _get(request, pk)
    _audit_view(request, referral, Action.VIEW, reason="live refresh")
    return render(request, "referrals/_live.html", detail_context(request, referral))


@login_required
def referral_sheet(request: HttpRequest, pk: int) -> HttpResponse:
    referral = _get(request, pk)
    _audit_view(request, referral, Action.EXPORT, reason="transfer sheet")
    response = HttpResponse(transfer_sheet_pdf(referral), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="transfer-{referral.pk}.pdf"'
    return response


@login_required
def referral_report(request: HttpRequest, pk: int) -> HttpResponse:
    """The consultation report attached to the referral (readable by the receiving side)."""
    referral = _get(request, pk)
    if referral.report is None:
        raise Http404
    _audit_view(request, referral, Action.EXPORT, reason="attached report")
    response = HttpResponse(report_pdf(referral.report), content_type="application/pdf")
    response["Content-Disposition"] = (
        f'inline; filename="report-{referral.report.consultation_id}.pdf"'
    )
    return response


# --- actions ------------------------------------------------------------------------------

# Each action of the page: the form it takes (None: a bare button) and its service.
ACTION_SERVICES: dict[str, tuple[type[django_forms.Form] | None, Callable[..., Referral]]] = {
    "accept": (None, services.referral_accept),
    "decline": (forms.DeclineForm, services.referral_decline),
    "redirect": (forms.RedirectForm, services.referral_redirect),
    "schedule": (forms.ScheduleForm, services.referral_schedule),
    "depart": (None, services.referral_depart),
    "arrive": (None, services.referral_arrive),
    "complete": (forms.CompleteForm, services.referral_complete),
    "cancel": (forms.CancelForm, services.referral_cancel),
}


def _action_input(form_class: type[django_forms.Form] | None, request: HttpRequest) -> dict:
    """The action's cleaned form data; its errors as one ReferralError."""
    if form_class is None:
        return {}
    form = form_class(request.POST)
    if not form.is_valid():
        errors = "; ".join(str(e) for errs in form.errors.values() for e in errs)
        raise services.ReferralError(errors)
    return form.cleaned_data


@require_POST
@login_required
def referral_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Run one service on a visible referral. An action the workflow table refuses (the state,
    or the person) answers 409/403 with the reason; any other refusal is shown as a message."""
    if action not in ACTION_SERVICES:
        raise Http404
    referral = _get(request, pk)
    form_class, service = ACTION_SERVICES[action]
    try:
        service(
            referral=referral,
            actor=request.user,
            context=AuditContext.from_request(request),
            **_action_input(form_class, request),
        )
    except TransitionNotAllowed as exc:
        back = reverse("referrals:detail", args=[referral.pk])
        return refused_page(request, exc, obj=referral, patient=referral.patient, back=back)
    except services.ReferralError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Saved."))
    return redirect("referrals:detail", pk=referral.pk)
