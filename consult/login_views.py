"""The login pages: password (with the lockout), then the second factor for those who need it.

Nobody who needs a second factor is logged in (django.contrib.auth.login) before it passes;
see consult/two_factor.py.
"""

from __future__ import annotations

from base64 import b32encode
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from consult import two_factor as tf

LOCKOUT_STATUS = 429


class PasswordLoginView(LoginView):
    """Step one. Users who need a second factor go on to step two, not logged in yet."""

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        user = form.get_user()
        if not tf.second_factor_required(user):
            return super().form_valid(form)
        tf.pending_start(self.request, user=user, next_url=self.get_redirect_url())
        if tf.totp_device(user) is None:
            return redirect("login-enrol")
        return redirect("login-verify")


def locked_out(
    request: HttpRequest, original_response: Any = None, credentials: Any = None
) -> HttpResponse:
    """django-axes' lockout answer (AXES_LOCKOUT_CALLABLE): the login page, saying why."""
    tf.pending_clear(request)
    cooloff = settings.AXES_COOLOFF_TIME
    context = {
        "form": AuthenticationForm(request),
        "locked": True,
        "lock_minutes": int(cooloff.total_seconds() // 60) if cooloff else None,
    }
    return render(request, "registration/login.html", context, status=LOCKOUT_STATUS)


def _done(request: HttpRequest) -> HttpResponse:
    return redirect(tf.pending_next(request) or resolve_url(settings.LOGIN_REDIRECT_URL))


def _expired(request: HttpRequest) -> HttpResponse:
    messages.error(request, _("Your login has expired: enter your password again."))
    return redirect("login")


@require_http_methods(["GET", "POST"])
def second_factor(request: HttpRequest) -> HttpResponse:
    """Step two: a code from the authenticator app, a backup code, or a code sent by SMS."""
    user = tf.pending_user(request)
    if user is None:
        return _expired(request)
    if tf.totp_device(user) is None:
        return redirect("login-enrol")
    if tf.login_locked(request, username=user.username):
        return locked_out(request)
    error = ""
    if request.method == "POST" and request.POST.get("send_sms"):
        result = tf.sms_code_send(user=user)
        if result == "sent":
            messages.success(request, _("A code was sent by SMS to your mobile number."))
        elif result == "wait":
            messages.error(request, _("A code was sent less than a minute ago: wait for it."))
        else:
            messages.error(request, _("No mobile number is on file for you: ask the admin."))
        return redirect("login-verify")
    if request.method == "POST":
        device = tf.second_factor_verify(user=user, token=request.POST.get("otp_token", ""))
        next_url = tf.pending_next(request)
        if device is not None:
            tf.login_complete(request, user=user, device=device)
            return redirect(next_url or resolve_url(settings.LOGIN_REDIRECT_URL))
        tf.second_factor_failed(request, user=user)
        error = _("That code is not right or was already used. Try the current one.")
    context = {"error": error, "has_mobile": bool(user.mobile), "mobile_end": user.mobile[-4:]}
    return render(request, "registration/second_factor.html", context, status=400 if error else 200)


@require_http_methods(["GET", "POST"])
def enrol(request: HttpRequest) -> HttpResponse:
    """First login (or after the admin's reset): set up the authenticator app with a QR code."""
    user = tf.pending_user(request)
    if user is None:
        return _expired(request)
    if tf.totp_device(user) is not None:
        return redirect("login-verify")
    if tf.login_locked(request, username=user.username):
        return locked_out(request)
    device = tf.totp_enrol_device(request, user=user)
    error = ""
    if request.method == "POST":
        codes = tf.totp_enrol_confirm(
            user=user, device=device, token=request.POST.get("otp_token", "")
        )
        if codes is not None:
            next_url = tf.pending_next(request)
            tf.login_complete(request, user=user, device=device)
            request.session[tf.NEW_BACKUP_CODES_KEY] = codes
            request.session["pl_2fa_after_codes"] = next_url
            return redirect("backup-codes")
        tf.second_factor_failed(request, user=user)
        error = _("That code is not right. Check the app shows PedsLink and try the current one.")
    secret = b32encode(device.bin_key).decode()
    context = {
        "error": error,
        "qr": mark_safe(tf.qr_svg(device.config_url)),  # noqa: S308 - SVG made by segno here
        "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
    }
    return render(request, "registration/enrol.html", context, status=400 if error else 200)


@login_required
@require_http_methods(["GET", "POST"])
def backup_codes(request: HttpRequest) -> HttpResponse:
    """The printable backup codes: shown once, right after they are made."""
    if request.method == "POST":
        try:
            tf.require_recent_second_factor(request, token=request.POST.get("otp_token", ""))
        except tf.SecondFactorRequired as exc:
            messages.error(request, str(exc))
            return redirect("backup-codes")
        request.session[tf.NEW_BACKUP_CODES_KEY] = tf.backup_codes_new(user=request.user)
        return redirect("backup-codes")
    codes = request.session.pop(tf.NEW_BACKUP_CODES_KEY, None)
    context = {
        "codes": codes,
        "left": tf.backup_codes_left(request.user),
        "next": request.session.pop("pl_2fa_after_codes", "") or resolve_url("home"),
        "needs_code": not tf.second_factor_is_recent(request),
    }
    return render(request, "registration/backup_codes.html", context)
