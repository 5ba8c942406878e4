"""Parent portal services: share a signed report with guardians, check who opens it, revoke.

Flow: `portal_share_create` (doctor, or automatically when a report is signed) → the guardian
opens the link (`portal_share_for_token`) → `portal_check_birth_date` sends a one-time code
(`portal_code_send`) → `portal_check_code` → `portal_report_viewed` on every view.
Tokens have 192 bits from `secrets`; only their SHA-256 is stored.

Every change takes its actor (the staff user, or the share for the guardian) and the
`AuditContext` it came from, never the request, and writes its audit row in its own
transaction; views call these directly and write no audit row themselves.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils.timezone import now
from django.utils.translation import gettext as _

from consult.models import (
    SHARE_ACTIONS,
    Guardian,
    PortalShare,
    Report,
    ShareActor,
    ShareState,
    User,
)
from consult.portal import limits as portal_limits
from consult.portal.selectors import may_manage_shares
from core.audit import SYSTEM, Action, AuditContext, Outcome, audit_record
from core.notify import alliance_language, notification_sms_create
from core.transitions import ActorNotAllowed, Rule, TransitionNotAllowed, action_check
from pedslink.proxy import absolute_url

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{32}$")
CODE_RE = re.compile(r"^\d{6}$")


class PortalError(Exception):
    """A refusal with a message for the person in front of the screen."""


class PortalNotAllowed(TransitionNotAllowed, PortalError):
    """Not from the share's state (revoked, expired, superseded …): HTTP 409 (410 on the
    guardian's pages, which say the link is gone)."""


class PortalActorNotAllowed(ActorNotAllowed, PortalNotAllowed):
    """Not for this person: HTTP 403."""


class PortalAttemptError(PortalError):
    def __init__(self, message: str, left: int) -> None:
        super().__init__(message)
        self.left = left


@dataclass(frozen=True)
class LinkProblem:
    kind: str  # "malformed", "unknown", "expired", "revoked"
    share: PortalShare | None = None


# --- settings, read when used ---------------------------------------------------------------


def link_days() -> int:
    return int(getattr(settings, "PORTAL_LINK_DAYS", 30))


def code_minutes() -> int:
    return int(getattr(settings, "PORTAL_CODE_MINUTES", 10))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _code_hash(share_id: int, code: str) -> str:
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"portal-code:{share_id}:{code}".encode(), hashlib.sha256).hexdigest()


def portal_link(token: str) -> str:
    return absolute_url(reverse("portal-open", args=[token]))


def audit_actor(share: PortalShare) -> str:
    return f"portal-share:{share.pk}"


# --- the SHARE_ACTIONS table ---------------------------------------------------------------


def portal_share_allowed(action: str, *, share: PortalShare, user: User | None = None) -> Rule:
    """The SHARE_ACTIONS rule for `action` on this link, or PortalNotAllowed with the reason.
    `user` None: the guardian, through the link."""
    if user is None:
        actors = {ShareActor.GUARDIAN}
    else:
        actors = {ShareActor.STAFF} if may_manage_shares(user, share.report) else set()
    state = share.state
    return action_check(
        SHARE_ACTIONS,
        action,
        state=state,
        state_label=str(ShareState(state).label),
        actors=actors,
        refusal=_("This link is “%(state)s”; in this state you cannot %(action)s."),
        state_error=PortalNotAllowed,
        actor_error=PortalActorNotAllowed,
    )


# --- sharing ----------------------------------------------------------------------------------


def _new_share(
    *, report: Report, guardian: Guardian, user: User | None, previous: PortalShare | None = None
) -> tuple[PortalShare, str]:
    token = secrets.token_urlsafe(24)  # 24 bytes = 192 bits, 32 URL-safe characters
    share = PortalShare.objects.create(
        report=report,
        guardian=guardian,
        patient_id=report.consultation.patient_id,
        token_hash=token_hash(token),
        previous=previous,
        created_by=user,
        expires_at=now() + dt.timedelta(days=link_days()),
    )
    return share, token


def portal_share_create(
    *, report: Report, guardians: Iterable[Guardian], user: User | None, context: AuditContext
) -> list[PortalShare]:
    """Share one signed report version with some of the child's guardians by SMS.

    `user` None means the automatic share at signing (the hospital's default). The SMS names
    the hospital and carries the link, never the child's name or the diagnosis.
    """
    if report.status != Report.Status.SIGNED:
        raise PortalNotAllowed(
            _("Only a signed, current report can be shared with the family."), "share"
        )
    if user is not None and not may_manage_shares(user, report):
        raise PortalActorNotAllowed(
            _("Only the referring hospital or a coordinator can share this report."), "share"
        )
    consultation = report.consultation
    chosen = list(guardians)
    if not chosen:
        raise PortalError(_("Choose at least one guardian."))
    if any(g.patient_id != consultation.patient_id for g in chosen):
        raise PortalError(_("A report can only be shared with the child's own guardians."))
    shares = []
    with transaction.atomic(), alliance_language():
        for guardian in chosen:
            share, token = _new_share(report=report, guardian=guardian, user=user)
            notification_sms_create(
                to=guardian.mobile,
                kind="portal_link",
                obj=share,
                body=_(
                    "[%(hospital)s] Your child's imaging consultation report is ready. "
                    "Open %(link)s and confirm the child's date of birth to read it."
                )
                % {"hospital": consultation.hospital.name_zh, "link": portal_link(token)},
            )
            if user is not None:
                audit_record(
                    action=Action.CREATE,
                    context=context,
                    user=user,
                    obj=share,
                    patient=consultation.patient,
                    reason="report shared with guardian",
                )
            shares.append(share)
    return shares


def portal_share_on_sign(*, report_id: int) -> list[PortalShare]:
    """Called after a report (or an amendment) is signed: share it with every guardian when
    the referring hospital shares by default. Idempotent per report version."""
    report = Report.objects.select_related("consultation__hospital").get(pk=report_id)
    hospital = report.consultation.hospital
    if not hospital.share_reports_with_guardians or report.status != Report.Status.SIGNED:
        return []
    if report.portal_shares.filter(created_by__isnull=True, previous__isnull=True).exists():
        return []
    guardians = Guardian.objects.filter(patient_id=report.consultation.patient_id)
    if not guardians:
        return []
    return portal_share_create(report=report, guardians=guardians, user=None, context=SYSTEM)


def portal_token_revoke(*, share: PortalShare, user: User, context: AuditContext) -> PortalShare:
    """Revoke a link now: the next page the guardian loads says so. A link already revoked or
    expired is refused (nothing to revoke, nothing written)."""
    portal_share_allowed("revoke", share=share, user=user)
    with transaction.atomic():
        if not PortalShare.objects.filter(pk=share.pk, revoked_at__isnull=True).update(
            revoked_at=now(), revoked_by=user
        ):
            share.refresh_from_db()
            portal_share_allowed("revoke", share=share, user=user)
        audit_record(
            action=Action.UPDATE,
            context=context,
            user=user,
            obj=share,
            patient=share.patient,
            reason="portal link revoked",
        )
    share.refresh_from_db()
    return share


# --- the guardian's side ------------------------------------------------------------------


def portal_share_for_token(token: str) -> PortalShare | LinkProblem:
    """The share a link's token names, or what is wrong with the link."""
    if not TOKEN_RE.match(token or ""):
        return LinkProblem("malformed")
    share = (
        PortalShare.objects.select_related("report__consultation__hospital")
        .filter(token_hash=token_hash(token))
        .first()
    )
    if share is None:
        return LinkProblem("unknown")
    return usable_or_problem(share)


def portal_link_refused(*, reason: str, context: AuditContext, user: User | None = None) -> None:
    """A link that names no share (malformed or unknown): a denied audit row, nothing else.
    `user`: a staff member signed in on the same browser, if any."""
    audit_record(
        action=Action.DENIED,
        context=context,
        user=user,
        object_type="portal_link",
        object_id="",
        outcome=Outcome.FAILURE,
        reason=reason,
    )


def usable_or_problem(share: PortalShare) -> PortalShare | LinkProblem:
    if share.is_revoked:
        return LinkProblem("revoked", share)
    if share.is_expired:
        return LinkProblem("expired", share)
    return share


def _take_try(share: PortalShare, ip: str | None) -> int:
    left = portal_limits.attempt_take(share_id=share.pk, ip=ip)
    if left is None:
        raise PortalAttemptError(locked_message(), 0)
    return left


def _refuse(share: PortalShare, left: int, what: str, context: AuditContext) -> None:
    audit_record(
        action=Action.LOGIN_FAILED,
        context=context,
        obj=share,
        patient=share.patient,
        outcome=Outcome.FAILURE,
        reason=what,
        portal_token_id=audit_actor(share),
    )
    if left == 0:
        raise PortalAttemptError(locked_message(), 0)
    raise PortalAttemptError(
        _("That is not right. You have %(left)s tries left.") % {"left": left}, left
    )


def locked_message() -> str:
    return _(
        "Too many wrong tries. This link is locked for %(minutes)s minutes; "
        "try again later or call the hospital."
    ) % {"minutes": portal_limits.lock_seconds() // 60}


def current_version_share(share: PortalShare) -> PortalShare:
    """For a superseded version: the same guardian's share of the current version (made
    now if the doctor has not shared it yet), so that a new code opens the newer report."""
    report = share.report
    if report.status != Report.Status.SUPERSEDED:
        return share
    current = (
        Report.objects.filter(consultation_id=report.consultation_id, status=Report.Status.SIGNED)
        .order_by("-version")
        .first()
    )
    if current is None:
        return share
    existing = (
        PortalShare.objects.filter(report=current, guardian_id=share.guardian_id)
        .filter(revoked_at__isnull=True, expires_at__gt=now())
        .order_by("-created_at")
        .first()
    )
    if existing is not None:
        return existing
    successor, _token = _new_share(
        report=current, guardian=share.guardian, user=None, previous=share
    )
    return successor


def portal_check_birth_date(
    *, share: PortalShare, birth_date: dt.date | None, context: AuditContext
) -> PortalShare:
    """Step one: the child's date of birth. Right → a code is sent; returns the share the code
    opens (a newer version's share when this version was superseded). Tries are counted per
    link and per address (`context.ip`)."""
    portal_share_allowed("check_birth_date", share=share)
    left = _take_try(share, context.ip)
    if birth_date is None or birth_date != share.patient.birth_date:
        _refuse(share, left, "wrong date of birth", context)
    portal_limits.attempt_give_back(share_id=share.pk, ip=context.ip)
    return portal_code_send_current(share=share)


def portal_code_send_current(*, share: PortalShare) -> PortalShare:
    """A code for the current version: this share's, or for a superseded version the same
    guardian's share of the current one (made now if need be), in one transaction. Returns the
    share the code opens."""
    with transaction.atomic():
        target = current_version_share(share)
        portal_code_send(share=target)
    return target


def portal_code_send(*, share: PortalShare) -> None:
    """A new 6-digit code to the guardian's registered phone; valid once, for 10 minutes."""
    portal_share_allowed("send_code", share=share)
    if not portal_limits.code_send_allowed(share_id=share.pk):
        raise PortalError(
            _("Several codes were sent in the last hour. Wait a while, or call the hospital.")
        )
    code = f"{secrets.randbelow(10**6):06d}"
    with transaction.atomic(), alliance_language():
        PortalShare.objects.filter(pk=share.pk).update(
            code_hash=_code_hash(share.pk, code),
            code_expires_at=now() + dt.timedelta(minutes=code_minutes()),
        )
        notification_sms_create(
            to=share.guardian.mobile,
            kind="portal_code",
            obj=share,
            body=_("Your PedsLink code is %(code)s. It works once, for %(minutes)s minutes.")
            % {"code": code, "minutes": code_minutes()},
        )


def portal_check_code(*, share: PortalShare, code: str, context: AuditContext) -> PortalShare:
    """Step two: the one-time code. It is used up by the conditional update that accepts it,
    so two requests with the same code cannot both get in; that update and its audit row are
    one transaction."""
    portal_share_allowed("check_code", share=share)
    left = _take_try(share, context.ip)
    code = (code or "").strip()
    with transaction.atomic():
        accepted = CODE_RE.match(code) and PortalShare.objects.filter(
            pk=share.pk,
            code_hash=_code_hash(share.pk, code),
            code_expires_at__gt=now(),
            revoked_at__isnull=True,
        ).update(code_hash="", code_expires_at=None)
        if accepted:
            audit_record(
                action=Action.LOGIN,
                context=context,
                obj=share,
                patient=share.patient,
                portal_token_id=audit_actor(share),
            )
    if not accepted:
        _refuse(share, left, "wrong or expired code", context)
    portal_limits.attempt_give_back(share_id=share.pk, ip=context.ip)
    portal_limits.attempts_reset(share_id=share.pk)
    return share


def portal_report_viewed(
    *,
    share: PortalShare,
    context: AuditContext,
    user: User | None = None,
    what: str = "report",
    action: str = Action.VIEW,
) -> None:
    """Every view by the guardian: an audit row with the link as the actor; report page
    views also count as an opening for the doctor's page. `user`: a staff member signed in
    on the same browser, if any, recorded as well (the link stays the actor)."""
    portal_share_allowed("view", share=share)
    at = now()
    with transaction.atomic():
        if what == "report":
            PortalShare.objects.filter(pk=share.pk).update(
                open_count=F("open_count") + 1, last_used_at=at
            )
            PortalShare.objects.filter(pk=share.pk, first_opened_at__isnull=True).update(
                first_opened_at=at
            )
        else:
            PortalShare.objects.filter(pk=share.pk).update(last_used_at=at)
        audit_record(
            action=action,
            context=context,
            user=user,
            object_type="report",
            object_id=str(share.report_id),
            patient=share.patient,
            reason=f"guardian portal: {what}",
            portal_token_id=audit_actor(share),
        )
