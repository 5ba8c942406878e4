"""Staff two-factor login and the login lockout: policy, devices and the admin's actions.

The password step never logs anyone in who needs a second factor: it keeps the user's id in
the session as *pending* (`PENDING_KEY`), and only the second step (an authenticator code, a
printed backup code or a code sent by SMS, or the first enrolment of an authenticator app)
calls `django.contrib.auth.login()`. So every path that trusts a Django session (pages, the
API's session authentication, websockets, signed frame links) sees either a user who passed
both factors or nobody. The time of the last second factor is kept in the session
(`VERIFIED_AT_KEY`); `require_recent_second_factor` asks for it again when it is older than
SECOND_FACTOR_MAX_AGE_HOURS, and every sensitive act (signing a report; break-glass access when
it comes) goes through it.
"""

from __future__ import annotations

import datetime as dt
import io
import time
from typing import Any

import segno
from axes.handlers.proxy import AxesProxyHandler
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import login as auth_login
from django.contrib.auth.signals import user_login_failed
from django.db import transaction
from django.db.models import CharField, Max, Sum, Value
from django.db.models.functions import Cast
from django.http import HttpRequest
from django.utils.timezone import now
from django.utils.translation import gettext as _
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from consult.models import Role, SecurityPolicy, SmsDevice, User
from consult.services import user_end_sessions
from core.audit import Action, audit_record
from core.sms import sms_send

PENDING_KEY = "pl_2fa_pending"
VERIFIED_AT_KEY = "pl_2fa_at"
ENROL_DEVICE_KEY = "pl_2fa_enrol_device"
NEW_BACKUP_CODES_KEY = "pl_2fa_new_codes"
BACKUP_CODES = 10
STAFF_ROLES = (Role.SPECIALIST, Role.COORDINATOR, Role.ADMIN)
SMS_CODE_SECONDS = 300


class SecondFactorRequired(Exception):
    """The act needs a second factor newer than SECOND_FACTOR_MAX_AGE_HOURS."""


# --- policy ------------------------------------------------------------------------------


def second_factor_required(user: User) -> bool:
    """Specialists, coordinators, alliance admins (and Django staff) always; referring doctors
    when the alliance's security policy says so."""
    if user.role in STAFF_ROLES or user.is_staff or user.is_superuser:
        return True
    return (
        user.role == Role.REFERRING_DOCTOR
        and SecurityPolicy.current().referring_doctors_need_second_factor
    )


def totp_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.devices_for_user(user, confirmed=True).first()


def backup_codes_left(user: User) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


# --- the pending login -------------------------------------------------------------------


def pending_start(request: HttpRequest, *, user: User, next_url: str) -> None:
    """Password accepted: remember who is half-way, for a few minutes, without logging in."""
    request.session.cycle_key()  # a new session id once the password is known
    request.session[PENDING_KEY] = {
        "user": user.pk,
        "backend": getattr(user, "backend", settings.AUTHENTICATION_BACKENDS[-1]),
        "at": int(time.time()),
        "next": next_url,
    }


def pending_user(request: HttpRequest) -> User | None:
    pending = request.session.get(PENDING_KEY)
    if not pending:
        return None
    if time.time() - pending["at"] > settings.SECOND_FACTOR_PENDING_MINUTES * 60:
        pending_clear(request)
        return None
    user = User.objects.filter(pk=pending["user"], is_active=True).first()
    if user is not None:
        user.backend = pending["backend"]
    return user


def pending_next(request: HttpRequest) -> str:
    return (request.session.get(PENDING_KEY) or {}).get("next", "")


def pending_clear(request: HttpRequest) -> None:
    for key in (PENDING_KEY, ENROL_DEVICE_KEY):
        request.session.pop(key, None)


def login_complete(request: HttpRequest, *, user: User, device: Any) -> None:
    """Both factors passed: log in now (the login's audit row is written by
    core.auth_audit), and note when the second factor was given."""
    backend = user.backend
    pending_clear(request)
    auth_login(request, user, backend=backend)
    request.session[VERIFIED_AT_KEY] = int(time.time())


def second_factor_failed(request: HttpRequest, *, user: User) -> None:
    """A wrong code counts as a failed login for the lockout (and is audited)."""
    user_login_failed.send(
        sender=__name__, credentials={"username": user.username}, request=request
    )


def login_locked(request: HttpRequest, *, username: str) -> bool:
    return not AxesProxyHandler.is_allowed(request, {"username": username})


# --- verifying a code --------------------------------------------------------------------


def second_factor_verify(*, user: User, token: str) -> Any | None:
    """The device that accepts `token` (authenticator, backup code or SMS code), or None.
    A backup or SMS code works once; an authenticator code once per 30-second step."""
    token = "".join(token.split())
    if not token:
        return None
    with transaction.atomic():
        for model in (TOTPDevice, StaticDevice, SmsDevice):
            for device in model.objects.devices_for_user(user, confirmed=True).select_for_update():
                if device.verify_token(token):
                    return device
    return None


def sms_code_send(*, user: User) -> str:
    """Send a one-time code to the user's mobile through the SMS backend. Returns "sent",
    "wait" (one was sent less than a minute ago) or "no_mobile"."""
    if not user.mobile:
        return "no_mobile"
    with transaction.atomic():
        device, _created = SmsDevice.objects.select_for_update().get_or_create(
            user=user, defaults={"name": "sms", "confirmed": True}
        )
        if device.token and device.valid_until - now() > dt.timedelta(
            seconds=SMS_CODE_SECONDS - 60
        ):
            return "wait"
        device.generate_token(valid_secs=SMS_CODE_SECONDS)
    body = _("PedsLink login code: %(code)s (valid 5 minutes). Never give it to anyone.") % {
        "code": device.token
    }
    sms_send(to=user.mobile, body=body)
    return "sent"


def second_factor_is_recent(request: HttpRequest) -> bool:
    at = request.session.get(VERIFIED_AT_KEY)
    max_age = settings.SECOND_FACTOR_MAX_AGE_HOURS * 3600
    return at is not None and time.time() - at < max_age


def require_recent_second_factor(request: HttpRequest, *, token: str = "") -> None:
    """Pass when the session's second factor is recent enough, or `token` is a valid code now
    (which renews it). Raises SecondFactorRequired otherwise. Every act that must be done by
    the person themself (signing a report; break-glass access) calls this first."""
    if second_factor_is_recent(request):
        return
    user = request.user
    if token and login_locked(request, username=user.username):
        raise SecondFactorRequired(_("Too many wrong codes: ask the alliance admin to unlock you."))
    device = second_factor_verify(user=user, token=token) if token else None
    if device is None:
        if token:
            second_factor_failed(request, user=user)
        raise SecondFactorRequired(
            _(
                "Your last two-factor check is more than %(hours)s hours old: enter the code "
                "from your authenticator app (or a backup code) to go on."
            )
            % {"hours": f"{settings.SECOND_FACTOR_MAX_AGE_HOURS:g}"}
        )
    request.session[VERIFIED_AT_KEY] = int(time.time())
    audit_record(request=request, action=Action.UPDATE, obj=user, reason="second factor renewed")


# --- enrolment and backup codes ----------------------------------------------------------


def totp_enrol_device(request: HttpRequest, *, user: User) -> TOTPDevice:
    """The unconfirmed authenticator being set up in this session (made on first call)."""
    device = TOTPDevice.objects.filter(
        user=user, confirmed=False, pk=request.session.get(ENROL_DEVICE_KEY)
    ).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)
        request.session[ENROL_DEVICE_KEY] = device.pk
    return device


@transaction.atomic
def totp_enrol_confirm(*, user: User, device: TOTPDevice, token: str) -> list[str] | None:
    """Confirm the authenticator when `token` is its current code; returns new backup codes."""
    if not device.verify_token("".join(token.split())):
        return None
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    audit_record(user=user, action=Action.UPDATE, obj=user, reason="authenticator enrolled")
    return backup_codes_new(user=user)


@transaction.atomic
def backup_codes_new(*, user: User) -> list[str]:
    """Replace the user's printed backup codes with BACKUP_CODES new ones (each works once)."""
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name="backup", confirmed=True)
    codes = [StaticToken.random_token() for _ in range(BACKUP_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def qr_svg(data: str) -> str:
    """An inline SVG QR code (server-side; no script, no external service)."""
    out = io.BytesIO()
    segno.make(data, error="m").save(out, kind="svg", scale=5, border=2, xmldecl=False, svgns=True)
    return out.getvalue().decode()


# --- the alliance admin's actions --------------------------------------------------------


@transaction.atomic
def second_factor_reset(*, actor: User, user: User, request: HttpRequest | None = None) -> None:
    """Remove every second-factor device of `user` (lost phone): the next login enrols anew.
    Their open sessions end too."""
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    SmsDevice.objects.filter(user=user).delete()
    audit_record(
        request=request, user=actor, action=Action.UPDATE, obj=user, reason="second factor reset"
    )
    transaction.on_commit(lambda: user_end_sessions(user_id=user.pk))


def _recent_attempts() -> Any:
    rows = AccessAttempt.objects.all()
    if settings.AXES_COOLOFF_TIME:
        rows = rows.filter(attempt_time__gte=now() - settings.AXES_COOLOFF_TIME)
    return rows


def login_locks() -> list[dict[str, Any]]:
    """Current lockouts, as django-axes counts them: an account whose failures (from any
    address) reach AXES_FAILURE_LIMIT, and an address whose failures (for any account) do.
    One query for both."""

    def by(field: str) -> Any:
        return (
            _recent_attempts()
            .exclude(**{f"{field}__isnull": True})
            .values(key=Cast(field, CharField()))
            .annotate(
                failures=Sum("failures_since_start"),
                last=Max("attempt_time"),
                kind=Value(field, CharField()),
            )
            .filter(failures__gte=settings.AXES_FAILURE_LIMIT)
            .values("key", "kind", "failures", "last")
        )

    rows = by("username").union(by("ip_address"), all=True).order_by("-last")[:200]
    return [{"username": "", "ip_address": "", **row, row["kind"]: row["key"]} for row in rows]


def username_locked(username: str) -> bool:
    rows = _recent_attempts().filter(username=username)
    failures = rows.aggregate(n=Sum("failures_since_start"))["n"] or 0
    return failures >= settings.AXES_FAILURE_LIMIT


@transaction.atomic
def login_unlock(
    *,
    actor: User,
    username: str = "",
    ip_address: str = "",
    request: HttpRequest | None = None,
) -> int:
    """Lift a lockout: the failures counted against this account and/or this address."""
    removed = 0
    if username:
        removed += AxesProxyHandler.reset_attempts(username=username)
    if ip_address:
        removed += AxesProxyHandler.reset_attempts(ip_address=ip_address)
    target = User.objects.filter(username=username).first() if username else None
    audit_record(
        request=request,
        user=actor,
        action=Action.UPDATE,
        obj=target,
        object_type="user" if target is None else "",
        object_id="" if target is not None else (username or ip_address),
        reason=f"login lock lifted ({username or '-'} / {ip_address or '-'})",
    )
    return removed


@transaction.atomic
def security_policy_update(
    *, actor: User, referring_doctors_need_second_factor: bool, request: HttpRequest | None = None
) -> SecurityPolicy:
    policy, _created = SecurityPolicy.objects.update_or_create(
        pk=1,
        defaults={
            "referring_doctors_need_second_factor": referring_doctors_need_second_factor,
            "updated_by": actor,
        },
    )
    audit_record(
        request=request,
        user=actor,
        action=Action.UPDATE,
        obj=policy,
        reason="referring doctors need a second factor: "
        + ("yes" if referring_doctors_need_second_factor else "no"),
    )
    return policy
