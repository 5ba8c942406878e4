"""Ending a user's access at once: every remembered access answer and every open socket.

Access answers remembered for speed (`viewer.access.may_see_study`, also read by the viewer's
signed frame links' verifier) are stored with the user's *access generation*: a random number
kept in Redis, and an answer counts only while it carries the current one. A change of the
user's hospital, role, department, subspecialties, password or active flag, and a logout, draw
a new generation, so every answer remembered before is dead at once, in every process. A lost
generation (expired, evicted) is drawn afresh the same way, so it can never revive old answers.

Sockets: every consumer joins the user's access group (`core.realtime.access_group`); the
same change closes them after commit, a logout only those of the session that ended.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_out
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.http import HttpRequest

from core.realtime import close_sockets_after_commit, session_digest

CLOSE_SIGNED_OUT = 4401  # the session or the account ended: the page stops listening
CLOSE_ACCESS_CHANGED = 4403  # still signed in, other rights: the page reconnects and is re-checked

# Any lifetime is safe (a lost generation is replaced by a new random one); a day keeps
# the keys of users who left from piling up.
GENERATION_SECONDS = 24 * 3600


def access_generation_key(user_id: Any) -> str:
    """The cache key of a user's access generation (also read by viewer.rendering.links)."""
    return f"access:generation:{user_id}"


def _draw() -> int:
    # An int is stored by Django's Redis cache as its digits, which the fast path compares.
    return secrets.randbits(62) + 1


def access_generation(user_id: Any) -> int:
    """The user's current access generation, drawn if there is none."""
    key = access_generation_key(user_id)
    found = cache.get(key)
    if found is None:
        cache.add(key, _draw(), timeout=GENERATION_SECONDS)
        found = cache.get(key)  # whoever added first wins
    return found


def _renew(user_id: Any) -> None:
    cache.set(access_generation_key(user_id), _draw(), timeout=GENERATION_SECONDS)


def access_end(*, user_id: Any, signed_out: bool, session_key: str = "") -> None:
    """End every remembered access answer of a user and close their sockets.

    Call it inside the transaction that changes the user. The generation is renewed at once
    (a Redis failure then fails the change, rather than leave answers standing) and again
    after commit, for answers a request computed meanwhile from the rows before the change.
    `signed_out`: the sockets close with 4401, else 4403; `session_key`: only that session's.
    """
    _renew(user_id)
    transaction.on_commit(lambda: _renew(user_id))
    code = CLOSE_SIGNED_OUT if signed_out else CLOSE_ACCESS_CHANGED
    session = session_digest(session_key) if session_key else ""
    close_sockets_after_commit(user_id, code=code, session=session)


@receiver(user_logged_out)
def _logged_out(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    if user is None or user.pk is None:
        return
    session = getattr(request, "session", None)
    session_key = (session.session_key or "") if session is not None else ""
    if session is not None and session_key:
        # Ended here rather than just after (logout flushes it too), so that a socket opening
        # at this very moment, which re-checks its session once in the access group, cannot
        # find it still alive after the close was sent.
        session.delete()
    access_end(user_id=user.pk, signed_out=True, session_key=session_key)


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def _user_saved(sender: Any, instance: Any, update_fields: Any = None, **kwargs: Any) -> None:
    """A save that may change the password or the active flag, by any path (the admin's form
    goes through `user_save`, which also closes sockets; Django's admin or a shell do not),
    renews the generation, so no remembered answer or signed frame link outlives it."""
    if update_fields is not None and not {"password", "is_active"} & set(update_fields):
        return
    _renew(instance.pk)
    transaction.on_commit(lambda: _renew(instance.pk))
