"""Consultation pages. Thin: a selector to read (404 + denied audit row when not visible),
one service to write, a redirect or a fragment back."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Prefetch, Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.timezone import now
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from consult.audit import Action, audit_record
from consult.consultations import sla
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
from consult.consultations.services import (
    ConsultationError,
    attachment_add,
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
    sla_policies,
    sla_standing,
    thread_mark_read,
)
from consult.consultations.sla_sweep import sla_policy_update
from consult.models import (
    OPEN_STATUSES,
    Attachment,
    Consultation,
    ConsultationEvent,
    Notification,
    Priority,
    Report,
    Role,
    SlaPolicy,
    Status,
    Subspecialty,
    TransferUrgency,
    User,
)
from consult.notify import notifications_mark_read, unread_count
from consult.refusals import refused_page
from consult.selectors import consultations_visible_to, get_patient_for, get_visible_or_404
from consult.transitions import TransitionNotAllowed
from consult.two_factor import (
    SecondFactorRequired,
    require_recent_second_factor,
    second_factor_is_recent,
)

LIST_SELECT = ("patient", "hospital", "assigned_to", "requested_by")


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


def _with_standing(cases: list[Consultation]) -> list[Consultation]:
    policies = sla_policies()
    at = now()
    for case in cases:
        case.standing = sla_standing(case, policies, at)
    return cases


def _list_rows(qs: Any) -> Any:
    return qs.select_related(*LIST_SELECT).annotate(n_studies=Count("studies", distinct=True))


def _act(
    request: HttpRequest, pk: Any, action: Callable[[Consultation], Any], done: str = ""
) -> HttpResponse:
    """Run one service on a visible case. An action the workflow table refuses (the state, or
    the person) answers 409/403 with the reason; any other refusal is shown as a message."""
    consultation = _get(request, pk)
    try:
        action(consultation)
    except TransitionNotAllowed as exc:
        return _refused(request, exc, consultation)
    except ConsultationError as exc:
        messages.error(request, str(exc))
    else:
        audit_record(
            request=request,
            action=Action.UPDATE,
            obj=consultation,
            patient=consultation.patient,
            reason=done[:300],
        )
        if done:
            messages.success(request, done)
    return redirect("consultation-detail", pk=consultation.pk)


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


def by_state_context(user: User) -> dict[str, Any]:
    qs = consultations_visible_to(user).order_by("-updated_at")
    cases = _with_standing(list(_list_rows(qs)[:300]))
    groups = {s: [] for s in Status.values}
    for case in cases:
        groups[case.status].append(case)
    return {
        "groups": [(Status(s).label, s, rows) for s, rows in groups.items() if rows],
        "answered_statuses": (Status.REPORTED,),
    }


@login_required
def home_fragment(request: HttpRequest) -> HttpResponse:
    """The role's live block on the home page (refetched on websocket events)."""
    return render(request, "consult/consultations/_home_block.html", home_context(request.user))


def home_context(user: User) -> dict[str, Any]:
    if user.role == Role.SPECIALIST:
        return {"worklist": worklist_rows(user, {}), "role": user.role}
    if user.role == Role.COORDINATOR:
        return {**dashboard_context(), "role": user.role}
    if user.role == Role.REFERRING_DOCTOR:
        return {**by_state_context(user), "role": user.role}
    return {"role": user.role}


WORKLIST_ROWS = 50
STANDING_FIELDS = (
    "pk",
    "priority",
    "status",
    "submitted_at",
    "reported_at",
    "updated_at",
    "sla_paused_seconds",
    "sla_paused_since",
)


def worklist_rows(user: User, params: Any) -> list[Consultation]:
    """Mine (open) and my subspecialties' unassigned queue, soonest-due first.

    Time left depends on pauses, so the order is computed from a few columns of every
    candidate; only the first WORKLIST_ROWS are then loaded in full (two queries in all).
    """
    qs = consultations_visible_to(user).filter(
        Q(assigned_to=user, status__in=OPEN_STATUSES)
        | Q(status=Status.SUBMITTED, assigned_to__isnull=True)
    )
    if params.get("priority") in Priority.values:
        qs = qs.filter(priority=params["priority"])
    if params.get("subspecialty") in Subspecialty.values:
        qs = qs.filter(subspecialty=params["subspecialty"])
    if params.get("status") in Status.values:
        qs = qs.filter(status=params["status"])
    policies, at, far = sla_policies(), now(), dt.timedelta(days=365)

    def sort_key(row: dict[str, Any]) -> tuple:
        left = far
        if row["submitted_at"] is not None:
            clock = sla.Clock(
                row["submitted_at"], row["sla_paused_seconds"], row["sla_paused_since"]
            )
            left = sla.standing(policies[row["priority"]], clock, at).left
        return (left, row["priority"] != Priority.URGENT, row["pk"])

    candidates = sorted(qs.values(*STANDING_FIELDS), key=sort_key)
    first = [row["pk"] for row in candidates[:WORKLIST_ROWS]]
    rows = {c.pk: c for c in _list_rows(Consultation.objects.filter(pk__in=first))}
    ordered = _with_standing([rows[pk] for pk in first if pk in rows])
    return ordered


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


def _first_rows(qs: Any, n: int = 50) -> list[Consultation]:
    """The first n of an ordered queryset, with the list columns: ids first (index only),
    then the joins and the study count for those n rows alone."""
    ids = list(qs.values_list("pk", flat=True)[:n])
    rows = {c.pk: c for c in _list_rows(Consultation.objects.filter(pk__in=ids))}
    return _with_standing([rows[pk] for pk in ids if pk in rows])


def dashboard_context() -> dict[str, Any]:
    open_cases = Consultation.objects.filter(status__in=OPEN_STATUSES)
    counts = dict(open_cases.values_list("status").annotate(n=Count("pk")).order_by())
    by_state = [(Status(s).label, counts.get(s, 0)) for s in OPEN_STATUSES]
    at_risk = _first_rows(
        open_cases.filter(sla_stage=2, breached_at__isnull=True).order_by("next_deadline")
    )
    breached = _first_rows(open_cases.filter(breached_at__isnull=False).order_by("breached_at"))
    # Load from the open cases (index on status, assigned_to), not a join over all cases.
    open_by_specialist = dict(
        open_cases.exclude(assigned_to=None)
        .values_list("assigned_to")
        .annotate(n=Count("pk"))
        .order_by()
    )
    load = list(User.objects.filter(role=Role.SPECIALIST, is_active=True).order_by("full_name"))
    for specialist in load:
        specialist.n_open = open_by_specialist.get(specialist.pk, 0)
    load.sort(key=lambda s: -s.n_open)
    history = (
        ConsultationEvent.objects.filter(
            kind__in=[ConsultationEvent.Kind.SLA_BREACH, ConsultationEvent.Kind.SLA_REASSIGN]
        )
        .select_related("consultation__hospital", "consultation__patient")
        .order_by("-at")[:50]
    )
    return {
        "by_state": by_state,
        "at_risk": at_risk,
        "breached": breached,
        "load": load,
        "history": history,
        "unassigned": counts.get(Status.SUBMITTED, 0),
    }


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
                user=request.user,
                patient=patient,
                study_ids=[s.pk for s in data.pop("studies")],
                **data,
            )
            for upload in request.FILES.getlist("attachments"):
                attachment_add(consultation=consultation, user=request.user, upload=upload)
        except ConsultationError as exc:
            form.add_error(None, str(exc))
        else:
            audit_record(request=request, action=Action.CREATE, obj=consultation, patient=patient)
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
        try:
            consultation_update(
                consultation=consultation,
                user=request.user,
                study_ids=[s.pk for s in data.pop("studies")],
                **data,
            )
            for upload in request.FILES.getlist("attachments"):
                attachment_add(consultation=consultation, user=request.user, upload=upload)
            if "submit" in request.POST:
                consultation_submit(consultation=consultation, user=request.user)
        except TransitionNotAllowed as exc:
            return _refused(request, exc, consultation)
        except ConsultationError as exc:
            form.add_error(None, str(exc))
        else:
            audit_record(
                request=request,
                action=Action.UPDATE,
                obj=consultation,
                patient=consultation.patient,
            )
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


def thread_context(consultation: Consultation, user: User) -> dict[str, Any]:
    thread = consultation.messages.select_related("author").prefetch_related(
        "attachments", Prefetch("receipts", queryset=_receipts())
    )
    return {
        "thread": thread,
        "me": user,
        "loose_attachments": consultation.attachments.filter(message__isnull=True),
    }


def _receipts() -> Any:
    from consult.models import MessageReceipt

    return MessageReceipt.objects.select_related("user")


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
    return _act(
        request,
        pk,
        lambda c: consultation_submit(consultation=c, user=request.user),
        _("Submitted. A specialist has been asked."),
    )


@require_POST
@login_required
def action_accept(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        lambda c: consultation_accept(consultation=c, user=request.user),
        _("Accepted: the case is in review."),
    )


@require_POST
@login_required
def action_request_info(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        lambda c: consultation_request_info(
            consultation=c,
            user=request.user,
            question=request.POST.get("question", ""),
            files=request.FILES.getlist("attachments"),
        ),
        _("Question sent. The deadline clock is paused until the answer."),
    )


@require_POST
@login_required
def action_message(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        lambda c: message_post(
            consultation=c,
            user=request.user,
            body=request.POST.get("body", ""),
            files=request.FILES.getlist("attachments"),
            study_ids=[i for i in request.POST.getlist("studies") if i.isdigit()],
        ),
    )


@require_POST
@login_required
def action_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        lambda c: consultation_cancel(
            consultation=c, user=request.user, reason=request.POST.get("reason", "")
        ),
        _("Cancelled."),
    )


@require_POST
@login_required
def action_close(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request, pk, lambda c: consultation_close(consultation=c, user=request.user), _("Closed.")
    )


@require_POST
@role_required(Role.COORDINATOR)
def action_reassign(request: HttpRequest, pk: int) -> HttpResponse:
    form = ReassignForm(request.POST)
    form.fields["specialist"].queryset = User.objects.filter(role=Role.SPECIALIST)

    def run(c: Consultation) -> None:
        if not form.is_valid():
            raise ConsultationError(_("Give a reason for the reassignment."))
        consultation_reassign(
            consultation=c,
            user=request.user,
            specialist=form.cleaned_data["specialist"],
            reason=form.cleaned_data["reason"],
        )

    return _act(request, pk, run, _("Reassigned."))


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
    def run(c: Consultation) -> None:
        try:
            edit_version = int(request.POST.get("edit_version") or 0)
        except ValueError:
            edit_version = -1
        if request.POST.get("sign"):
            report_sign_allowed(consultation=c, user=request.user)
        report_save(
            consultation=c,
            user=request.user,
            edit_version=edit_version,
            announce=not request.POST.get("sign"),
            **_report_fields(request.POST),
        )
        if request.POST.get("sign"):
            # The draft above is kept; signing waits for a fresh second factor if need be.
            try:
                require_recent_second_factor(request, token=request.POST.get("otp_token", ""))
            except SecondFactorRequired as exc:
                raise ConsultationError(str(exc)) from exc
            report_sign(
                consultation=c, user=request.user, password=request.POST.get("password", "")
            )

    done = _("Report signed.") if request.POST.get("sign") else _("Report draft saved.")
    return _act(request, pk, run, done)


@require_POST
@login_required
def action_report_amend(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        lambda c: report_amend(
            consultation=c, user=request.user, reason=request.POST.get("reason", "")
        ),
        _("Amendment started: edit the new version and sign it."),
    )


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
            sla_policy_update(user=request.user, priority=priority, **form.cleaned_data)
            audit_record(
                request=request, action=Action.UPDATE, object_type="slapolicy", object_id=priority
            )
            messages.success(request, _("Policy saved; open cases follow it from now."))
            return redirect("sla-policy")
        forms.append((Priority(priority).label, priority, form))
    return render(request, "consult/sla_policy.html", {"forms": forms})
