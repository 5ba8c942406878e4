"""Report services: save a draft (optimistic lock), sign (password), amend (new version)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import F, Max
from django.utils.timezone import now
from django.utils.translation import gettext as _

from consult.consultations.report_templates import TEMPLATES, clean_data, template_for
from consult.consultations.services import (
    ConsultationError,
    consultation_allowed,
    consultation_audit,
    consultation_notify,
    consultation_transition,
    coordinators,
)
from consult.models import Consultation, ConsultationActor, ConsultationEvent, Report, Status, User
from core.audit import AuditContext
from core.notify import alliance_language
from core.realtime import object_group, push_after_commit

EDITABLE = ("findings", "impression", "recommendation", "transfer_recommended", "transfer_urgency")


class StaleReportError(ConsultationError):
    pass


def report_draft(consultation: Consultation) -> Report | None:
    return consultation.reports.filter(status=Report.Status.DRAFT).first()


def report_current(consultation: Consultation) -> Report | None:
    return consultation.reports.filter(status=Report.Status.SIGNED).order_by("-version").first()


def _allowed(verb: str, user: User, consultation: Consultation, draft: Report | None) -> None:
    """`verb` ("write" or "sign") the first report, or the amendment being written: the
    ACTIONS table says from which states and by whom."""
    if draft is not None and draft.version > 1:
        amender = {ConsultationActor.AMENDER} if draft.author_id == user.pk else set()
        consultation_allowed(
            f"{verb}_amendment", consultation=consultation, user=user, actors=amender
        )
    else:
        action = "write_report" if verb == "write" else "sign"
        consultation_allowed(action, consultation=consultation, user=user)


def report_sign_allowed(*, consultation: Consultation, user: User) -> None:
    """Raise the refusal `report_sign` would give for the state or the person, before a page
    saves the text it is about to sign."""
    _allowed("sign", user, consultation, report_draft(consultation))


def report_save(
    *,
    consultation: Consultation,
    actor: User,
    context: AuditContext,
    edit_version: int,
    template: str = "",
    data: dict[str, str] | None = None,
    announce: bool = True,
    **fields: Any,
) -> Report:
    """Save the draft report. `edit_version` is the version the editor loaded; if somebody
    saved since, nothing is written and StaleReportError says so.

    `announce=False` when the same request signs right after: open pages of the case reload
    on a "report" event, and one sent for this save would reload them before the signature
    is committed, and the signing's own event would reach them while they reload (missed)."""
    draft = report_draft(consultation)
    _allowed("write", actor, consultation, draft)
    chosen = TEMPLATES.get(template) or (
        TEMPLATES[draft.template] if draft else template_for(consultation.subspecialty)
    )
    clean, errors = clean_data(chosen, data or {})
    if errors:
        raise ConsultationError(" ".join(errors))
    values = {k: v for k, v in fields.items() if k in EDITABLE}
    if not values.get("transfer_recommended", False):
        values["transfer_urgency"] = ""
    with transaction.atomic():
        if draft is None:
            if edit_version:
                raise StaleReportError(_("This draft no longer exists; reload the page."))
            draft = Report.objects.create(
                consultation=consultation,
                version=1,
                template=chosen.code,
                data=clean,
                author=actor,
                edit_version=1,
                **values,
            )
        else:
            updated = Report.objects.filter(
                pk=draft.pk, status=Report.Status.DRAFT, edit_version=edit_version
            ).update(
                template=chosen.code,
                data=clean,
                edit_version=F("edit_version") + 1,
                updated_at=now(),
                **values,
            )
            if not updated:
                raise StaleReportError(
                    _(
                        "Somebody saved this report after you opened it. Your changes were not "
                        "saved; reload to see the current text, then make your change again."
                    )
                )
            draft.refresh_from_db()
        if announce:
            push_after_commit(object_group("consultation", consultation.pk), "report")
        consultation_audit(consultation, actor, context, "report_save")
    return draft


def report_sign(
    *, consultation: Consultation, actor: User, context: AuditContext, password: str
) -> Report:
    """Sign the draft: re-enter the password; the version then never changes."""
    draft = report_draft(consultation)
    _allowed("sign", actor, consultation, draft)
    if draft is None:
        raise ConsultationError(_("There is no draft report to sign."))
    if not password or not actor.check_password(password):
        raise ConsultationError(_("The password is not correct; the report was not signed."))
    if not draft.findings.strip() or not draft.impression.strip():
        raise ConsultationError(
            _("An empty report cannot be signed: write the findings and the impression.")
        )
    if draft.transfer_recommended and not draft.transfer_urgency:
        raise ConsultationError(_("Say how urgent the recommended transfer is."))
    at = now()
    with transaction.atomic(), alliance_language():
        if not Report.objects.filter(pk=draft.pk, status=Report.Status.DRAFT).update(
            status=Report.Status.SIGNED, signed_at=at
        ):
            raise ConsultationError(_("This report was signed a moment ago by another session."))
        ref = {"id": consultation.pk, "version": draft.version}
        if draft.version == 1:
            consultation_transition(consultation=consultation, to=Status.REPORTED, actor=actor)
            ConsultationEvent.objects.create(
                consultation=consultation,
                at=at,
                actor=actor,
                kind=ConsultationEvent.Kind.REPORT_SIGNED,
            )
            recipients = [consultation.requested_by]
            if draft.transfer_recommended:
                recipients += coordinators()
            consultation_notify(
                recipients,
                "report",
                _("The report for case #%(id)s is ready") % ref,
                _("A specialist has signed the report. Open the case to read it."),
                consultation,
                sms=True,
            )
        else:
            consultation.reports.filter(
                status=Report.Status.SIGNED, version__lt=draft.version
            ).update(status=Report.Status.SUPERSEDED, superseded_at=at)
            ConsultationEvent.objects.create(
                consultation=consultation,
                at=at,
                actor=actor,
                kind=ConsultationEvent.Kind.REPORT_AMENDED,
                reason=draft.amendment_reason,
            )
            everyone = {
                consultation.requested_by,
                consultation.assigned_to,
                *coordinators(),
                *[r.author for r in consultation.reports.exclude(pk=draft.pk)],
            }
            consultation_notify(
                [u for u in everyone if u and u.pk != actor.pk],
                "report_amended",
                _("The report for case #%(id)s was amended (version %(version)s)") % ref,
                draft.amendment_reason,
                consultation,
                sms=True,
            )
        push_after_commit(object_group("consultation", consultation.pk), "report")
        push_after_commit(
            object_group("hospital", consultation.hospital_id), "consultation", id=consultation.pk
        )
        # The family's copy (issue 7): shared after commit so a failed SMS never unsigns.
        from consult.portal.services import portal_share_on_sign

        transaction.on_commit(lambda: portal_share_on_sign(report_id=draft.pk), robust=True)
        consultation_audit(consultation, actor, context, "report_sign")
    draft.refresh_from_db()
    return draft


def report_amend(
    *, consultation: Consultation, actor: User, context: AuditContext, reason: str
) -> Report:
    """Start an amendment: a new draft version copied from the signed one, with a reason."""
    current = report_current(consultation)
    signer = {ConsultationActor.SIGNER} if current and current.author_id == actor.pk else set()
    consultation_allowed("amend", consultation=consultation, user=actor, actors=signer)
    if current is None:
        raise ConsultationError(_("Only a signed report can be amended."))
    if not reason.strip():
        raise ConsultationError(_("Give the reason for the amendment."))
    if report_draft(consultation) is not None:
        raise ConsultationError(_("An amendment is already being written."))
    with transaction.atomic():
        version = (consultation.reports.aggregate(v=Max("version"))["v"] or 0) + 1
        amendment = Report.objects.create(
            consultation=consultation,
            version=version,
            template=current.template,
            data=current.data,
            author=actor,
            amendment_reason=reason[:500],
            edit_version=1,
            **{k: getattr(current, k) for k in EDITABLE},
        )
        consultation_audit(consultation, actor, context, "report_amend")
    return amendment
