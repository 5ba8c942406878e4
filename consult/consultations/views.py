"""Consultation pages. Thin: a selector to read (404 + denied audit row when not visible),
one service to write, a redirect or a fragment back."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from consult.consultations.forms import (
    ConsultationForm,
    ReassignForm,
    SlaPolicyForm,
    study_label,
)
from consult.consultations.report_pdf import report_pdf
from consult.consultations.report_templates import TEMPLATES, display_rows, template_for
from consult.consultations.reports import (
    report_amend,
    report_save,
    report_sign,
    report_sign_allowed,
)
from consult.consultations.selectors import (
    WORKLIST_ROWS,
    by_state_context,
    dashboard_context,
    home_context,
    thread_context,
    worklist_rows,
)
from consult.consultations.services import (
    ConsultationError,
    consultation_accept,
    consultation_allowed,
    consultation_cancel,
    consultation_close,
    consultation_create,
    consultation_missing,
    consultation_reassign,
    consultation_request_info,
    consultation_submit,
    consultation_update,
    message_post,
    thread_mark_read,
)
from consult.consultations.sla import sla_policies, sla_policy_update, sla_standing
from consult.models import (
    OPEN_STATUSES,
    Attachment,
    Consultation,
    Priority,
    Report,
    Role,
    SlaPolicy,
    Status,
    Subspecialty,
    TransferUrgency,
    User,
)
from consult.selectors import consultations_visible_to, get_patient_for, get_visible_or_404
from consult.two_factor import (
    SecondFactorRequired,
    require_recent_second_factor,
    second_factor_is_recent,
)
from core.audit import Action, AuditContext, audit_record
from core.models import Notification
from core.notify import notifications_mark_read, unread_count
from core.refusals import refused_page
from core.transitions import TransitionNotAllowed


def role_required(*roles: str) -> Callable:
    def decorator(view: Callable) -> Callable:
        @wraps(view)
        @login_required
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.user.role not in roles:
                raise Http404
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def _get(request: HttpRequest, pk: Any) -> Consultation:
    return get_visible_or_404(
        request, consultations_visible_to(request.user), pk=pk, object_type="consultation"
    )


def _done(request: HttpRequest, consultation: Consultation, done: str = "") -> HttpResponse:
    """After a service changed the case (and wrote its audit row): back to its page."""
    if done:
        messages.success(request, done)
    return redirect("consultation-detail", pk=consultation.pk)


def _failed(request: HttpRequest, exc: ConsultationError, c: Consultation) -> HttpResponse:
    """An action the workflow table refuses (the state, or the person) answers 409/403 with
    the reason; any other refusal is shown as a message on the case's page."""
    if isinstance(exc, TransitionNotAllowed):
        return _refused(request, exc, c)
    messages.error(request, str(exc))
    return redirect("consultation-detail", pk=c.pk)


def _refused(request: HttpRequest, exc: TransitionNotAllowed, c: Consultation) -> HttpResponse:
    back = reverse("consultation-detail", args=[c.pk])
    return refused_page(request, exc, obj=c, patient=c.patient, back=back)


# --- lists ------------------------------------------------------------------------------


@login_required
def consultation_list(request: HttpRequest) -> HttpResponse:
    """The hospital's (or everyone's, for the coordinator) cases grouped by state."""
    if request.user.role == Role.SPECIALIST:
        return redirect("worklist")
    template = (
        "consult/consultations/_by_state.html"
        if request.GET.get("fragment")
        else "consult/consultations/list.html"
    )
    return render(request, template, by_state_context(request.user))


@login_required
def home_fragment(request: HttpRequest) -> HttpResponse:
    """The role's live block on the home page (refetched on websocket events)."""
    return render(request, "consult/consultations/_home_block.html", home_context(request.user))


@role_required(Role.SPECIALIST)
def worklist(request: HttpRequest) -> HttpResponse:
    rows = worklist_rows(request.user, request.GET)
    context = {
        "rows": rows,
        "limit": WORKLIST_ROWS,
        "priorities": Priority.choices,
        "subspecialties": Subspecialty.choices,
        "statuses": [(s, Status(s).label) for s in OPEN_STATUSES],
        "filters": request.GET,
    }
    template = (
        "consult/consultations/_worklist_rows.html"
        if request.GET.get("fragment")
        else "consult/consultations/worklist.html"
    )
    return render(request, template, context)


@role_required(Role.COORDINATOR)
def dashboard(request: HttpRequest) -> HttpResponse:
    template = (
        "consult/consultations/_dashboard.html"
        if request.GET.get("fragment")
        else "consult/consultations/dashboard.html"
    )
    return render(request, template, dashboard_context())


# --- create and edit a draft ---------------------------------------------------------------


def _studies_of(request: HttpRequest, patient_id: int) -> Any:
    from viewer.selectors import studies_visible_to

    return studies_visible_to(request.user).filter(patient_id=patient_id).order_by("-study_date")


@role_required(Role.REFERRING_DOCTOR)
def patient_studies_json(request: HttpRequest, patient_pk: int) -> JsonResponse:
    """The child's studies as the consultation form offers them, read again after an upload
    in the form so the new studies can be added to the choices without reloading the page."""
    patient = get_patient_for(request, patient_pk)
    return JsonResponse(
        {
            "studies": [
                {"id": s.pk, "uid": s.study_instance_uid, "label": study_label(s)}
                for s in _studies_of(request, patient.pk)
            ]
        }
    )


def _uploader_context(patient: Any) -> dict:
    from django.conf import settings

    return {"upload_patient": patient, "max_bytes": settings.IMAGING_MAX_FILE_BYTES}


@role_required(Role.REFERRING_DOCTOR)
def consultation_new(request: HttpRequest) -> HttpResponse:
    if not (request.GET.get("patient") or request.POST.get("patient")):
        return _child_picker(request)
    patient = get_patient_for(request, request.GET.get("patient") or request.POST.get("patient"))
    form = ConsultationForm(request.POST or None, studies_qs=_studies_of(request, patient.pk))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            consultation = consultation_create(
                actor=request.user,
                context=AuditContext.from_request(request),
                patient=patient,
                study_ids=[s.pk for s in data.pop("studies")],
                files=request.FILES.getlist("attachments"),
                **data,
            )
        except ConsultationError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Draft saved. Submit it when it is complete."))
            return redirect("consultation-edit", pk=consultation.pk)
    return render(
        request,
        "consult/consultations/form.html",
        {"form": form, "patient": patient, "consultation": None, **_uploader_context(patient)},
    )


def _child_picker(request: HttpRequest) -> HttpResponse:
    from consult.selectors import patients_visible_to

    q = request.GET.get("q", "").strip()
    children = patients_visible_to(request.user).order_by("-created_at")
    if q:
        children = children.filter(Q(name__icontains=q) | Q(identifiers__mrn=q)).distinct()
    return render(
        request, "consult/consultations/pick_child.html", {"children": children[:50], "q": q}
    )


@role_required(Role.REFERRING_DOCTOR)
def consultation_edit(request: HttpRequest, pk: int) -> HttpResponse:
    consultation = _get(request, pk)
    if consultation.status != Status.DRAFT:
        if request.method != "POST":
            return redirect("consultation-detail", pk=pk)
        try:  # an edit posted from a page opened before the case was submitted
            consultation_allowed("edit", consultation=consultation, user=request.user)
        except TransitionNotAllowed as exc:
            return _refused(request, exc, consultation)
    form = ConsultationForm(
        request.POST or None,
        instance=consultation,
        studies_qs=_studies_of(request, consultation.patient_id),
    )
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        context = AuditContext.from_request(request)
        try:
            consultation_update(
                consultation=consultation,
                actor=request.user,
                context=context,
                study_ids=[s.pk for s in data.pop("studies")],
                files=request.FILES.getlist("attachments"),
                **data,
            )
            if "submit" in request.POST:
                consultation_submit(consultation=consultation, actor=request.user, context=context)
        except TransitionNotAllowed as exc:
            return _refused(request, exc, consultation)
        except ConsultationError as exc:
            form.add_error(None, str(exc))
        else:
            if "submit" in request.POST:
                messages.success(request, _("Submitted. A specialist has been asked."))
                return redirect("consultation-detail", pk=pk)
            messages.success(request, _("Draft saved."))
            return redirect("consultation-edit", pk=pk)
    return render(
        request,
        "consult/consultations/form.html",
        {
            "form": form,
            "patient": consultation.patient,
            "consultation": consultation,
            "missing": consultation_missing(consultation),
            **_uploader_context(consultation.patient),
        },
    )


# --- the consultation page ----------------------------------------------------------------


@login_required
def consultation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    consultation = _get(request, pk)
    audit_record(
        request=request, action=Action.VIEW, obj=consultation, patient=consultation.patient
    )
    thread_mark_read(consultation=consultation, user=request.user)
    from viewer.models import Measurement
    from viewer.selectors import studies_visible_to

    studies = list(consultation.studies.all())
    priors = (
        studies_visible_to(request.user)
        .filter(patient_id=consultation.patient_id)
        .exclude(pk__in=[s.pk for s in studies])
        .order_by("-study_date")[:50]
    )
    reports = list(consultation.reports.select_related("author").order_by("-version"))
    draft = next((r for r in reports if r.status == Report.Status.DRAFT), None)
    signed = [r for r in reports if r.status != Report.Status.DRAFT]
    user = request.user
    can_write = (
        draft is not None
        and (
            draft.author_id == user.pk
            if draft.version > 1
            else consultation.assigned_to_id == user.pk
        )
        or (
            draft is None
            and consultation.assigned_to_id == user.pk
            and consultation.status == Status.IN_REVIEW
        )
    )
    template = TEMPLATES[draft.template] if draft else template_for(consultation.subspecialty)
    reassign_form = None
    if user.role == Role.COORDINATOR:
        reassign_form = ReassignForm()
        reassign_form.fields["specialist"].queryset = User.objects.filter(
            role=Role.SPECIALIST, is_active=True
        )
    # Measurements saved in the viewer on this case's studies, offered to the report writer.
    measurements = (
        Measurement.objects.filter(study__in=studies).select_related("instance__series")
        if can_write
        else Measurement.objects.none()
    )
    context = {
        "c": consultation,
        "measurements": measurements,
        "standing": sla_standing(consultation, sla_policies()),
        "studies": studies,
        "priors": priors,
        "draft": draft,
        "signed_reports": [(r, display_rows(TEMPLATES[r.template], r.data)) for r in signed],
        "can_write": can_write,
        "template": template,
        "templates": TEMPLATES.values(),
        "draft_data": draft.data if draft else {},
        "transfer_urgencies": TransferUrgency.choices,
        "events": consultation.events.select_related("actor"),
        "reassign_form": reassign_form,
        "is_referring": user.role == Role.REFERRING_DOCTOR,
        "is_assignee": consultation.assigned_to_id == user.pk,
        "second_factor_stale": can_write and not second_factor_is_recent(request),
        **thread_context(consultation, user),
        **_uploader_context(consultation.patient),
    }
    return render(request, "consult/consultations/detail.html", context)


@login_required
def consultation_thread(request: HttpRequest, pk: int) -> HttpResponse:
    consultation = _get(request, pk)
    thread_mark_read(consultation=consultation, user=request.user)
    return render(
        request,
        "consult/consultations/_thread.html",
        {"c": consultation, **thread_context(consultation, request.user)},
    )


@login_required
def consultation_status_fragment(request: HttpRequest, pk: int) -> HttpResponse:
    consultation = _get(request, pk)
    return render(
        request,
        "consult/consultations/_status.html",
        {
            "c": consultation,
            "standing": sla_standing(consultation, sla_policies()),
            "events": consultation.events.select_related("actor"),
        },
    )


@login_required
def attachment_download(request: HttpRequest, pk: int, attachment_id: int) -> HttpResponse:
    consultation = _get(request, pk)
    try:
        attachment = consultation.attachments.get(pk=attachment_id)
    except Attachment.DoesNotExist:
        raise Http404 from None
    audit_record(
        request=request, action=Action.EXPORT, obj=attachment, patient=consultation.patient
    )
    return FileResponse(attachment.file.open("rb"), as_attachment=True, filename=attachment.name)


@login_required
def report_pdf_download(request: HttpRequest, pk: int, version: int) -> HttpResponse:
    consultation = _get(request, pk)
    report = (
        consultation.reports.select_related(
            "author__hospital", "consultation__hospital", "consultation__patient"
        )
        .exclude(status=Report.Status.DRAFT)
        .filter(version=version)
        .first()
    )
    if report is None:
        raise Http404
    audit_record(
        request=request,
        action=Action.EXPORT,
        obj=report,
        patient=consultation.patient,
        reason="report pdf",
    )
    response = HttpResponse(report_pdf(report), content_type="application/pdf")
    response["Content-Disposition"] = (
        f'attachment; filename="pedslink-report-{consultation.pk}-v{version}.pdf"'
    )
    return response


# --- actions (POST) ------------------------------------------------------------------------


@require_POST
@login_required
def action_submit(request: HttpRequest, pk: int) -> HttpResponse:
    c = _get(request, pk)
    try:
        consultation_submit(
            consultation=c, actor=request.user, context=AuditContext.from_request(request)
        )
    except ConsultationError as exc:
        return _failed(request, exc, c)
    return _done(request, c, _("Submitted. A specialist has been asked."))


@require_POST
@login_required
def action_accept(request: HttpRequest, pk: int) -> HttpResponse:
    c = _get(request, pk)
    try:
        consultation_accept(
            consultation=c, actor=request.user, context=AuditContext.from_request(request)
        )
    except ConsultationError as exc:
        return _failed(request, exc, c)
    return _done(request, c, _("Accepted: the case is in review."))


@require_POST
@login_required
def action_request_info(request: HttpRequest, pk: int) -> HttpResponse:
    c = _get(request, pk)
    try:
        consultation_request_info(
            consultation=c,
            actor=request.user,
            context=AuditContext.from_request(request),
            question=request.POST.get("question", ""),
            files=request.FILES.getlist("attachments"),
        )
    except ConsultationError as exc:
        return _failed(request, exc, c)
    return _done(request, c, _("Question sent. The deadline clock is paused until the answer."))


@require_POST
@login_required
def action_message(request: HttpRequest, pk: int) -> HttpResponse:
    c = _get(request, pk)
    try:
        message_post(
            consultation=c,
            actor=request.user,
            context=AuditContext.from_request(request),
            body=request.POST.get("body", ""),
            files=request.FILES.getlist("attachments"),
            study_ids=[i for i in request.POST.getlist("studies") if i.isdigit()],
        )
    except ConsultationError as exc:
        return _failed(request, exc, c)
    return _done(request, c)


@require_POST
@login_required
def action_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    c = _get(request, pk)
    try:
        consultation_cancel(
            consultation=c,
            actor=request.user,
            context=AuditContext.from_request(request),
            reason=request.POST.get("reason", ""),
        )
    except ConsultationError as exc:
        return _failed(request, exc, c)
    return _done(request, c, _("Cancelled."))


@require_POST
@login_required
def action_close(request: HttpRequest, pk: int) -> HttpResponse:
    c = _get(request, pk)
    try:
        consultation_close(
            consultation=c, actor=request.user, context=AuditContext.from_request(request)
        )
    except ConsultationError as exc:
        return _failed(request, exc, c)
    return _done(request, c, _("Closed."))


@require_POST
@role_required(Role.COORDINATOR)
def action_reassign(request: HttpRequest, pk: int) -> HttpResponse:
    c = _get(request, pk)
    form = ReassignForm(request.POST)
    form.fields["specialist"].queryset = User.objects.filter(role=Role.SPECIALIST)
    try:
        if not form.is_valid():
            raise ConsultationError(_("Give a reason for the reassignment."))
        consultation_reassign(
            consultation=c,
            actor=request.user,
            context=AuditContext.from_request(request),
            specialist=form.cleaned_data["specialist"],
            reason=form.cleaned_data["reason"],
        )
    except ConsultationError as exc:
        return _failed(request, exc, c)
    return _done(request, c, _("Reassigned."))


def _report_fields(post: Any) -> dict[str, Any]:
    template = TEMPLATES.get(post.get("template", ""))
    return {
        "template": post.get("template", ""),
        "data": {f.name: post.get(f"data_{f.name}", "") for f in template.fields}
        if template
        else {},
        "findings": post.get("findings", ""),
        "impression": post.get("impression", ""),
        "recommendation": post.get("recommendation", ""),
        "transfer_recommended": post.get("transfer_recommended") == "on",
        "transfer_urgency": post.get("transfer_urgency", ""),
    }


@require_POST
@login_required
def action_report_save(request: HttpRequest, pk: int) -> HttpResponse:
    """Save the draft; with "sign", then sign it (the draft above is kept; signing waits for
    a fresh second factor if need be)."""
    c = _get(request, pk)
    sign = bool(request.POST.get("sign"))
    context = AuditContext.from_request(request)
    try:
        edit_version = int(request.POST.get("edit_version") or 0)
    except ValueError:
        edit_version = -1
    try:
        if sign:
            report_sign_allowed(consultation=c, user=request.user)
        report_save(
            consultation=c,
            actor=request.user,
            context=context,
            edit_version=edit_version,
            announce=not sign,
            **_report_fields(request.POST),
        )
        if sign:
            try:
                require_recent_second_factor(request, token=request.POST.get("otp_token", ""))
            except SecondFactorRequired as exc:
                raise ConsultationError(str(exc)) from exc
            report_sign(
                consultation=c,
                actor=request.user,
                context=context,
                password=request.POST.get("password", ""),
            )
    except ConsultationError as exc:
        return _failed(request, exc, c)
    return _done(request, c, _("Report signed.") if sign else _("Report draft saved."))


@require_POST
@login_required
def action_report_amend(request: HttpRequest, pk: int) -> HttpResponse:
    c = _get(request, pk)
    try:
        report_amend(
            consultation=c,
            actor=request.user,
            context=AuditContext.from_request(request),
            reason=request.POST.get("reason", ""),
        )
    except ConsultationError as exc:
        return _failed(request, exc, c)
    return _done(request, c, _("Amendment started: edit the new version and sign it."))


# --- notifications and the SLA policy ---------------------------------------------------


@login_required
def notification_list(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        notifications_mark_read(user=request.user)
        return redirect("notification-list")
    rows = Notification.objects.filter(recipient=request.user, channel=Notification.Channel.IN_APP)[
        :100
    ]
    return render(request, "consult/notifications.html", {"rows": rows})


@login_required
def notification_count(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"unread": unread_count(request.user)})


@role_required(Role.ADMIN)
def sla_policy_edit(request: HttpRequest) -> HttpResponse:
    forms = []
    for priority in Priority.values:
        instance = SlaPolicy.objects.filter(priority=priority).first() or SlaPolicy(
            priority=priority, target_seconds=4 * 3600, breach_seconds=6 * 3600
        )
        data = request.POST if request.POST.get("priority") == priority else None
        form = SlaPolicyForm(data, instance=instance, prefix=priority)
        if data is not None and form.is_valid():
            sla_policy_update(
                actor=request.user,
                context=AuditContext.from_request(request),
                priority=priority,
                **form.cleaned_data,
            )
            messages.success(request, _("Policy saved; open cases follow it from now."))
            return redirect("sla-policy")
        forms.append((Priority(priority).label, priority, form))
    return render(request, "consult/sla_policy.html", {"forms": forms})
