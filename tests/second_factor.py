"""Test helpers for the staff two-factor login: an authenticator device and its current code."""

from __future__ import annotations

import time

from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice


def authenticator_for(user) -> TOTPDevice:  # noqa: ANN001
    """The user's confirmed authenticator (made if they have none), ready to accept the
    current code even if a login a moment ago used it (tests log in more than once in 30 s)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="test", confirmed=True)
    TOTPDevice.objects.filter(pk=device.pk).update(last_t=-1, throttling_failure_count=0)
    device.refresh_from_db()
    return device


def current_code(device: TOTPDevice) -> str:
    code = totp(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{code:0{device.digits}d}"


def second_factor_passed(client) -> None:  # noqa: ANN001
    """Mark a force_login'd test client's session as having passed the second factor now."""
    from consult.two_factor import VERIFIED_AT_KEY

    session = client.session
    session[VERIFIED_AT_KEY] = int(time.time())
    session.save()
