"""Websockets through the real ASGI application and the Redis channel layer."""

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing.websocket import WebsocketCommunicator
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore

from core.audit import SYSTEM
from pedslink.asgi import application
from tests.second_factor import second_factor_passed

pytestmark = pytest.mark.django_db(transaction=True)


def run(coroutine_function):
    """Run an async scenario from a plain test (no asyncio plugin needed), in a helper thread
    when this one already runs an event loop (after a Playwright test)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return async_to_sync(coroutine_function)()
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(async_to_sync(coroutine_function)).result()


def _cookie(user):
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return f"sessionid={session.session_key}".encode()


def _socket(path, user=None, origin=b"http://127.0.0.1"):
    headers = [(b"origin", origin), (b"host", b"127.0.0.1")]
    if user is not None:
        headers.append((b"cookie", _cookie(user)))
    return WebsocketCommunicator(application, path, headers=headers)


def test_anonymous_is_refused():
    async def scenario():
        socket = _socket("/ws/live/")
        connected, code = await socket.connect()
        assert not connected and code == 4401

    run(scenario)


def test_foreign_origin_is_refused(specialist):
    async def scenario():
        socket = await sync_to_async(_socket)("/ws/live/", specialist, b"http://evil.example")
        connected, _code = await socket.connect()
        assert not connected

    run(scenario)


def test_outsider_cannot_watch_a_case(assigned, outsider):
    async def scenario():
        socket = await sync_to_async(_socket)(f"/ws/consultations/{assigned.pk}/", outsider)
        connected, code = await socket.connect()
        assert not connected and code == 4404

    run(scenario)


def test_worklist_hears_a_routed_case_after_commit(draft, on_call_specialist):
    async def scenario():
        from consult.consultations.services import consultation_submit

        socket = await sync_to_async(_socket)("/ws/live/", on_call_specialist)
        connected, _ = await socket.connect()
        assert connected
        await sync_to_async(consultation_submit)(
            context=SYSTEM, consultation=draft, actor=draft.requested_by
        )
        events = []
        while not any(e["kind"] == "bell" for e in events):
            events.append(await socket.receive_json_from(timeout=5))
        kinds = [e["kind"] for e in events]
        assert "consultation" in kinds and "bell" in kinds
        assert any(e.get("status") == "assigned" and e["id"] == draft.pk for e in events)
        await socket.disconnect()

    run(scenario)


def test_thread_hears_new_messages(in_review, county_doctor):
    reader = in_review.assigned_to

    async def scenario():
        from consult.consultations.services import message_post

        socket = await sync_to_async(_socket)(f"/ws/consultations/{in_review.pk}/", reader)
        connected, _ = await socket.connect()
        assert connected
        await sync_to_async(message_post)(
            context=SYSTEM, consultation=in_review, actor=county_doctor, body="补充"
        )
        event = await socket.receive_json_from(timeout=5)
        assert event["kind"] == "message"
        await socket.disconnect()

    run(scenario)


def test_nothing_is_pushed_for_a_rolled_back_change(in_review, county_doctor):
    reader = in_review.assigned_to

    async def scenario():
        from django.db import transaction

        from consult.consultations.services import message_post

        socket = await sync_to_async(_socket)(f"/ws/consultations/{in_review.pk}/", reader)
        await socket.connect()

        def post_then_fail():
            with transaction.atomic():
                message_post(context=SYSTEM, consultation=in_review, actor=county_doctor, body="x")
                raise RuntimeError("rolled back")

        with pytest.raises(RuntimeError):
            await sync_to_async(post_then_fail)()
        assert await socket.receive_nothing(timeout=1)
        await socket.disconnect()

    run(scenario)


def test_saving_and_signing_at_once_sends_one_report_event_after_the_signature(
    in_review, county_doctor, client, password
):
    """The doctor's open case page reloads on a "report" event: one sent for the draft save
    before the signature commits made it reload too early and miss the signed report."""
    from django.urls import reverse

    from consult.models import Report

    async def scenario():
        socket = await sync_to_async(_socket)(f"/ws/consultations/{in_review.pk}/", county_doctor)
        connected, _ = await socket.connect()
        assert connected

        def save_and_sign():
            client.force_login(in_review.assigned_to)
            second_factor_passed(client)
            client.post(
                reverse("consultation-report", args=[in_review.pk]),
                {
                    "template": "gi",
                    "findings": "同心圆征",
                    "impression": "肠套叠",
                    "edit_version": "0",
                    "sign": "1",
                    "password": password,
                },
            )

        await sync_to_async(save_and_sign)()
        kinds = []
        while not await socket.receive_nothing(timeout=1):
            kinds.append((await socket.receive_json_from())["kind"])
        assert kinds.count("report") == 1
        assert await sync_to_async(lambda: in_review.reports.get().status)() == Report.Status.SIGNED
        await socket.disconnect()

    run(scenario)
