"""Consultation services: every write to a consultation goes through here.

`consultation_transition` is the only function that changes a case's status
(STYLE.md "State machines"); the other services check who may act, then call it. Each
action takes the actor and an AuditContext and writes, in one transaction, the change, its
event row, its audit row (`consultation_audit`) and its after-commit pushes and notices.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils.timezone import now
from django.utils.translation import gettext as _

from consult.consultations import sla
from consult.consultations.routing import route_pick
from consult.models import (
    ACTIONS,
    TRANSITIONS,
    Attachment,
    Consultation,
    ConsultationActor,
    ConsultationAssignment,
    ConsultationEvent,
    Message,
    MessageReceipt,
    Patient,
    Priority,
    Role,
    Status,
    Subspecialty,
    User,
)
from core.audit import Action, AuditContext, audit_record
from core.notify import alliance_language, notification_create
from core.realtime import (
    COORDINATORS,
    object_group,
    push_after_commit,
    queue_group,
    user_group,
)
from core.transitions import ActorNotAllowed, Rule, TransitionNotAllowed, action_check

MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024
_KEEP: Any = object()


class ConsultationError(Exception):
    """A refused action; the message is shown to the user as is."""


class ConsultationNotAllowed(TransitionNotAllowed, ConsultationError):
    """Not from the case's current state (or somebody moved it first): HTTP 409."""


class ConsultationActorNotAllowed(ActorNotAllowed, ConsultationNotAllowed):
    """Not for this person: HTTP 403."""


# --- the transition function -----------------------------------------------------------


def consultation_groups(consultation: Consultation, *extra_users: int | None) -> list[str]:
    """Every websocket group whose page shows this case."""
    groups = [
        object_group("consultation", consultation.pk),
        object_group("hospital", consultation.hospital_id),
        queue_group(consultation.subspecialty),
        COORDINATORS,
    ]
    for user_id in (consultation.assigned_to_id, *extra_users):
        if user_id:
            groups.append(user_group(user_id))
    return groups


def consultation_transition(
    *,
    consultation: Consultation,
    to: str,
    actor: User | None,
    reason: str = "",
    assignee: User | None = _KEEP,
    kind: str = ConsultationEvent.Kind.STATUS,
) -> Consultation:
    """Move a case to `to` if the table allows it and nobody moved it first.

    Keeps the SLA clock (start at submission, pause while information is owed, stop at
    the report) and the next deadline in step, records the event row, and pushes the
    change to open pages after commit.
    """
    old = consultation.status
    if to not in TRANSITIONS[old]:
        raise ConsultationNotAllowed(
            _("This case is “%(old)s”; it cannot become “%(new)s”.")
            % {"old": Status(old).label, "new": Status(to).label}
        )
    at = now()
    with transaction.atomic():
        changes: dict[str, Any] = {"status": to, "updated_at": at}
        changes.update(sla.sla_clock_changes(consultation, to, at))
        if to == Status.REPORTED:
            changes["reported_at"] = at
        previous_assignee = consultation.assigned_to_id
        if assignee is not _KEEP:
            changes["assigned_to"] = assignee
        updated = Consultation.objects.filter(
            pk=consultation.pk, status=old, assigned_to_id=previous_assignee
        ).update(**changes)
        if not updated:
            raise ConsultationNotAllowed(
                _("Somebody else changed this case a moment ago. Reload the page and try again.")
            )
        for field, value in changes.items():
            setattr(consultation, field, value)
        policy = sla.sla_policies()[consultation.priority]
        consultation.next_deadline = sla.sla_deadline(consultation, policy)
        Consultation.objects.filter(pk=consultation.pk).update(
            next_deadline=consultation.next_deadline
        )
        if assignee is not _KEEP and assignee is not None:
            ConsultationAssignment.objects.create(
                consultation=consultation, specialist=assignee, at=at, reason=reason[:300]
            )
        ConsultationEvent.objects.create(
            consultation=consultation,
            at=at,
            actor=actor,
            kind=ConsultationEvent.Kind.ASSIGNED if assignee is not _KEEP and old == to else kind,
            from_status=old,
            to_status=to,
            reason=reason[:500],
        )
        push_after_commit(
            consultation_groups(consultation, previous_assignee),
            "consultation",
            id=consultation.pk,
            status=to,
        )
    return consultation


def consultation_audit(
    consultation: Consultation,
    actor: User,
    context: AuditContext,
    reason: str,
    action: str = Action.UPDATE,
) -> None:
    """The audit row of a change to the case, written in the change's transaction."""
    audit_record(
        action=action,
        context=context,
        user=actor,
        obj=consultation,
        patient=consultation.patient,
        reason=reason,
    )


def coordinators() -> list[User]:
    return list(User.objects.filter(role=Role.COORDINATOR, is_active=True))


def case_url(consultation: Consultation) -> str:
    return reverse("consultation-detail", args=[consultation.pk])


def consultation_notify(
    recipients: Iterable[User | None],
    kind: str,
    subject: str,
    body: str,
    consultation: Consultation,
    *,
    sms: bool = False,
) -> None:
    """Outbox rows about the case for `recipients` (nobody left out: None is skipped)."""
    notification_create(
        recipients=[r for r in recipients if r is not None],
        kind=kind,
        subject=subject,
        body=body,
        url=case_url(consultation),
        obj=consultation,
        sms=sms,
    )


# --- who may do what (the ACTIONS table) ---------------------------------------------------


def _is_referring_side(user: User, consultation: Consultation) -> bool:
    return user.role == Role.REFERRING_DOCTOR and user.hospital_id == consultation.hospital_id


def consultation_actors(user: User, consultation: Consultation) -> set[str]:
    """Who `user` is for this case, in the names of the ACTIONS table."""
    Actor = ConsultationActor
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return set()
    actors = {Actor.ANYONE}
    if _is_referring_side(user, consultation):
        actors.add(Actor.REFERRING)
    if user.role == Role.COORDINATOR:
        actors.add(Actor.COORDINATOR)
    if user.role == Role.SPECIALIST:
        if consultation.assigned_to_id == user.pk:
            actors.add(Actor.ASSIGNEE)
        elif (
            consultation.assigned_to_id is None
            and user.subspecialties.filter(subspecialty=consultation.subspecialty).exists()
        ):
            actors.add(Actor.QUEUE)
    return actors


def consultation_allowed(
    action: str,
    *,
    consultation: Consultation,
    user: User,
    actors: Iterable[str] = (),
    actor_refusal: str | None = None,
) -> Rule:
    """The ACTIONS rule for `action` on this case by `user`, or ConsultationNotAllowed (the
    state) / ConsultationActorNotAllowed (the person) with the reason. Every service that
    acts on a case calls it before it writes anything."""
    return action_check(
        ACTIONS,
        action,
        state=consultation.status,
        state_label=str(Status(consultation.status).label),
        actors={*consultation_actors(user, consultation), *actors},
        refusal=_("This case is “%(state)s”; in this state you cannot %(action)s."),
        actor_refusal=actor_refusal,
        state_error=ConsultationNotAllowed,
        actor_error=ConsultationActorNotAllowed,
    )


# --- drafts and submission ------------------------------------------------------------


def consultation_create(
    *,
    actor: User,
    context: AuditContext,
    patient: Patient,
    subspecialty: str = Subspecialty.GENERAL,
    priority: str = Priority.ROUTINE,
    urgent_reason: str = "",
    clinical_history: str = "",
    question: str = "",
    study_ids: Iterable[int] = (),
    files: Iterable[UploadedFile] = (),
) -> Consultation:
    """Save a new draft for a child of the doctor's hospital, with its attached files."""
    if actor.role != Role.REFERRING_DOCTOR or not actor.hospital_id:
        raise ConsultationError(_("Only a referring doctor can ask for a consultation."))
    files = list(files)
    _check_sizes(files)
    with transaction.atomic():
        consultation = Consultation.objects.create(
            patient=patient,
            hospital_id=actor.hospital_id,
            requested_by=actor,
            subspecialty=subspecialty,
            priority=priority,
            urgent_reason=urgent_reason,
            clinical_history=clinical_history,
            question=question,
        )
        _set_studies(consultation, study_ids)
        ConsultationEvent.objects.create(
            consultation=consultation,
            at=now(),
            actor=actor,
            to_status=Status.DRAFT,
            kind=ConsultationEvent.Kind.STATUS,
        )
        for upload in files:
            attachment_add(consultation=consultation, actor=actor, upload=upload)
        consultation_audit(consultation, actor, context, "create", action=Action.CREATE)
    return consultation


def _set_studies(consultation: Consultation, study_ids: Iterable[int]) -> None:
    from viewer.models import Study

    ids = {int(i) for i in study_ids}
    studies = list(Study.objects.filter(pk__in=ids))
    if len(studies) != len(ids) or any(s.patient_id != consultation.patient_id for s in studies):
        raise ConsultationError(_("A chosen study belongs to another child."))
    consultation.studies.set(studies)


def consultation_update(
    *,
    consultation: Consultation,
    actor: User,
    context: AuditContext,
    study_ids: Iterable[int] | None = None,
    files: Iterable[UploadedFile] = (),
    **fields: Any,
) -> Consultation:
    """Edit a draft (only drafts change; a submitted question stays as the specialist read it)
    and attach more files to it."""
    consultation_allowed("edit", consultation=consultation, user=actor)
    files = list(files)
    allowed = {"subspecialty", "priority", "urgent_reason", "clinical_history", "question"}
    with transaction.atomic():
        updated = Consultation.objects.filter(pk=consultation.pk, status=Status.DRAFT).update(
            updated_at=now(), **{k: v for k, v in fields.items() if k in allowed}
        )
        if not updated:
            raise ConsultationNotAllowed(_("Only a draft can be edited."), "edit")
        consultation.refresh_from_db()
        if study_ids is not None:
            _set_studies(consultation, study_ids)
        for upload in files:
            attachment_add(consultation=consultation, actor=actor, upload=upload)
        consultation_audit(consultation, actor, context, "edit")
    return consultation


def consultation_missing(consultation: Consultation) -> list[str]:
    """What a draft still needs before it can be submitted, in words for the doctor."""
    missing = []
    if not consultation.question.strip():
        missing.append(_("the question for the specialist"))
    if not consultation.clinical_history.strip():
        missing.append(_("the clinical history"))
    if consultation.priority == Priority.URGENT and not consultation.urgent_reason.strip():
        missing.append(_("the reason why this case is urgent"))
    if not consultation.studies.exists() and not consultation.attachments.exists():
        missing.append(_("at least one study or attachment"))
    return missing


def consultation_submit(
    *, consultation: Consultation, actor: User, context: AuditContext
) -> Consultation:
    """Submit a complete draft and route it. Only a draft: a case already with a specialist
    is never pulled back and routed again."""
    consultation_allowed("submit", consultation=consultation, user=actor)
    missing = consultation_missing(consultation)
    if missing:
        raise ConsultationError(
            _("Not submitted yet. Still missing: %(items)s.") % {"items": "; ".join(missing)}
        )
    with transaction.atomic():
        consultation_transition(consultation=consultation, to=Status.SUBMITTED, actor=actor)
        consultation_route(consultation=consultation, actor=actor)
        consultation_audit(consultation, actor, context, "submit")
    return consultation


def consultation_route(
    *,
    consultation: Consultation,
    actor: User | None,
    exclude: Iterable[int] = (),
    reason: str = "",
) -> User | None:
    """Assign by the routing rule; with nobody on call the case waits in the queue."""
    with alliance_language():
        pick = route_pick(subspecialty=consultation.subspecialty, at=now(), exclude=exclude)
        if pick is None:
            if consultation.status == Status.SUBMITTED:
                consultation_notify(
                    coordinators(),
                    "queue",
                    _("Case waiting for a specialist"),
                    _("Case #%(id)s has no on-call specialist; please assign it.")
                    % {"id": consultation.pk},
                    consultation,
                    sms=True,
                )
            return None
        consultation_transition(
            consultation=consultation,
            to=Status.ASSIGNED,
            actor=actor,
            assignee=pick,
            reason=reason or _("Routed: on call, fewest open cases"),
        )
        consultation_notify(
            [pick],
            "assigned",
            _("New case assigned to you"),
            _("Case #%(id)s (%(priority)s) is waiting on your worklist.")
            % {"id": consultation.pk, "priority": Priority(consultation.priority).label},
            consultation,
            sms=consultation.priority == Priority.URGENT,
        )
    return pick


# --- the specialist's and coordinator's moves -------------------------------------------


def consultation_accept(
    *, consultation: Consultation, actor: User, context: AuditContext
) -> Consultation:
    """The specialist starts reading: from their worklist, or takes a case from the queue."""
    if actor.role != Role.SPECIALIST:
        refusal = _("Only a specialist can accept a case.")
    elif consultation.assigned_to_id is not None:
        refusal = _("This case is assigned to another specialist.")
    else:
        refusal = _("This case is for another subspecialty.")
    consultation_allowed("accept", consultation=consultation, user=actor, actor_refusal=refusal)
    with transaction.atomic():
        if consultation.status == Status.SUBMITTED and consultation.assigned_to_id is None:
            consultation_transition(
                consultation=consultation,
                to=Status.ASSIGNED,
                actor=actor,
                assignee=actor,
                reason=_("Taken from the queue"),
            )
        consultation_transition(consultation=consultation, to=Status.IN_REVIEW, actor=actor)
        consultation_audit(consultation, actor, context, "accept")
    return consultation


def consultation_reassign(
    *,
    consultation: Consultation,
    actor: User,
    context: AuditContext,
    specialist: User | None,
    reason: str,
) -> Consultation:
    """The coordinator moves a case to another specialist (or back to the queue). A case
    waiting for information keeps a specialist (the answer must reach somebody)."""
    action = "reassign" if specialist is not None else "requeue"
    rule = consultation_allowed(action, consultation=consultation, user=actor)
    if not reason.strip():
        raise ConsultationError(_("Give a reason for the reassignment."))
    if specialist is not None and specialist.role != Role.SPECIALIST:
        raise ConsultationError(_("Choose a specialist."))
    if specialist is not None and specialist.pk == consultation.assigned_to_id:
        raise ConsultationError(_("The case is already assigned to this specialist."))
    to = rule.result(consultation.status)
    with transaction.atomic(), alliance_language():
        previous = consultation.assigned_to
        consultation_transition(
            consultation=consultation, to=to, actor=actor, assignee=specialist, reason=reason
        )
        body = _("Case #%(id)s was reassigned by the coordinator: %(reason)s") % {
            "id": consultation.pk,
            "reason": reason,
        }
        consultation_notify(
            [specialist, previous], "reassigned", _("Case reassigned"), body, consultation
        )
        consultation_audit(consultation, actor, context, action)
    return consultation


def consultation_request_info(
    *,
    consultation: Consultation,
    actor: User,
    context: AuditContext,
    question: str,
    files: Iterable[UploadedFile] = (),
) -> Message:
    """The specialist asks the referring doctor; the SLA clock pauses until the answer."""
    consultation_allowed("request_info", consultation=consultation, user=actor)
    if not question.strip():
        raise ConsultationError(_("Write the question for the referring doctor."))
    with transaction.atomic(), alliance_language():
        consultation_transition(
            consultation=consultation, to=Status.INFO_REQUESTED, actor=actor, reason=question[:500]
        )
        message = _message_create(consultation, actor, question, Message.Kind.INFO_REQUEST, files)
        consultation_notify(
            [consultation.requested_by],
            "info_request",
            _("The specialist asks for information"),
            _("Case #%(id)s: %(question)s") % {"id": consultation.pk, "question": question[:200]},
            consultation,
            sms=True,
        )
        consultation_audit(consultation, actor, context, "request_info")
    return message


def consultation_cancel(
    *, consultation: Consultation, actor: User, context: AuditContext, reason: str
) -> Consultation:
    consultation_allowed("cancel", consultation=consultation, user=actor)
    if not reason.strip():
        raise ConsultationError(_("Give a reason for cancelling."))
    with transaction.atomic(), alliance_language():
        consultation_transition(
            consultation=consultation, to=Status.CANCELLED, actor=actor, reason=reason
        )
        consultation_notify(
            [consultation.assigned_to],
            "cancelled",
            _("Case cancelled"),
            _("Case #%(id)s was cancelled: %(reason)s") % {"id": consultation.pk, "reason": reason},
            consultation,
        )
        consultation_audit(consultation, actor, context, "cancel")
    return consultation


def consultation_close(
    *, consultation: Consultation, actor: User, context: AuditContext
) -> Consultation:
    consultation_allowed("close", consultation=consultation, user=actor)
    with transaction.atomic():
        consultation_transition(consultation=consultation, to=Status.CLOSED, actor=actor)
        consultation_audit(consultation, actor, context, "close")
    return consultation


# --- the thread ------------------------------------------------------------------------


def _message_create(
    consultation: Consultation, user: User, body: str, kind: str, files: Iterable[UploadedFile]
) -> Message:
    message = Message.objects.create(consultation=consultation, author=user, body=body, kind=kind)
    for upload in files:
        attachment_add(consultation=consultation, actor=user, upload=upload, message=message)
    MessageReceipt.objects.create(message=message, user=user, read_at=message.created_at)
    push_after_commit(object_group("consultation", consultation.pk), "message", id=message.pk)
    return message


def _check_sizes(files: Iterable[UploadedFile]) -> None:
    if any(upload.size and upload.size > MAX_ATTACHMENT_BYTES for upload in files):
        raise ConsultationError(_("A file is larger than 20 MB."))


def attachment_add(
    *, consultation: Consultation, actor: User, upload: UploadedFile, message: Message | None = None
) -> Attachment:
    """Keep one file on the case (a part of the draft, the edit or the message that brings
    it, whose audit row covers it)."""
    _check_sizes([upload])
    if consultation.status in (Status.CLOSED, Status.CANCELLED):
        raise ConsultationError(_("This case is closed; nothing can be added."))
    return Attachment.objects.create(
        consultation=consultation,
        message=message,
        file=upload,
        name=(upload.name or "file")[:200],
        size=upload.size or 0,
        uploaded_by=actor,
    )


def thread_participants(consultation: Consultation) -> list[User]:
    ids = {consultation.requested_by_id, consultation.assigned_to_id}
    ids |= set(consultation.messages.values_list("author_id", flat=True))
    return list(User.objects.filter(pk__in=[i for i in ids if i]))


def message_post(
    *,
    consultation: Consultation,
    actor: User,
    context: AuditContext,
    body: str,
    files: Iterable[UploadedFile] = (),
    study_ids: Iterable[int] = (),
) -> Message:
    """Add to the thread. The referring side's message answers an open information request,
    and may bring new images: studies of the child (uploaded on the case page) that join the
    consultation's studies, named in the message."""
    files = list(files)
    consultation_allowed("message", consultation=consultation, user=actor)
    study_ids = list(study_ids)
    if study_ids:
        consultation_allowed("add_images", consultation=consultation, user=actor)
    studies = _studies_to_add(consultation, study_ids)
    if not body.strip() and not files and not studies:
        raise ConsultationError(_("Write a message or attach a file."))
    answering = consultation.status == Status.INFO_REQUESTED and _is_referring_side(
        actor, consultation
    )
    if answering:
        consultation_allowed("answer", consultation=consultation, user=actor)
    with transaction.atomic(), alliance_language():
        kind = Message.Kind.ANSWER if answering else Message.Kind.MESSAGE
        if studies:
            consultation.studies.add(*studies)
            from consult.consultations.forms import study_label

            names = "; ".join(study_label(s).strip() for s in studies)
            added = _("New images added to the case: %(studies)s") % {"studies": names}
            body = f"{body.rstrip()}\n\n{added}" if body.strip() else added
        message = _message_create(consultation, actor, body, kind, files)
        if answering:
            consultation_transition(
                consultation=consultation,
                to=Status.IN_REVIEW,
                actor=actor,
                reason=_("Information given"),
            )
        others = [p for p in thread_participants(consultation) if p.pk != actor.pk]
        consultation_notify(
            others,
            "message",
            _("New message on case #%(id)s") % {"id": consultation.pk},
            body[:200],
            consultation,
        )
        consultation_audit(consultation, actor, context, "message")
    return message


def _studies_to_add(consultation: Consultation, study_ids: Iterable[int]) -> list:
    """The studies a message adds: the child's, not yet on the case."""
    from viewer.models import Study

    ids = {int(i) for i in study_ids}
    if not ids:
        return []
    studies = list(Study.objects.filter(pk__in=ids))
    if len(studies) != len(ids) or any(s.patient_id != consultation.patient_id for s in studies):
        raise ConsultationError(_("A chosen study belongs to another child."))
    have = set(consultation.studies.values_list("pk", flat=True))
    return [s for s in studies if s.pk not in have]


def thread_mark_read(*, consultation: Consultation, user: User) -> int:
    """Record that `user` has read every message so far (read receipts)."""
    unread = consultation.messages.exclude(Q(receipts__user=user))
    at = now()
    rows = [MessageReceipt(message=m, user=user, read_at=at) for m in unread]
    MessageReceipt.objects.bulk_create(rows, ignore_conflicts=True)
    if rows:
        with transaction.atomic():
            push_after_commit(object_group("consultation", consultation.pk), "receipt")
    return len(rows)
