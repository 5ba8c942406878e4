"""Open websockets close when their user's access ends (core.revocation): a deactivation or
a logout closes them with 4401 and nothing more is pushed to them; a move to another hospital
closes them with 4403, and the page's reconnection is checked afresh."""

import pytest
from asgiref.sync import sync_to_async
from channels.testing.websocket import WebsocketCommunicator
from django.test import Client
from django.urls import reverse

from consult.services import user_save
from core.audit import SYSTEM
from pedslink.asgi import application
from tests.consult.test_websockets import _socket, run

pytestmark = pytest.mark.django_db(transaction=True)


def signed_in_socket(path, client, user):
    """A socket opened with the session of `client`, signed in as `user`."""
    client.force_login(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    headers = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1"), (b"cookie", cookie)]
    return WebsocketCommunicator(application, path, headers=headers)


async def closed_with(socket) -> int | None:
    """The close code the server sent next (pushes before it are skipped), or None."""
    while True:
        output = await socket.receive_output(timeout=5)
        if output["type"] == "websocket.close":
            return output.get("code")


def post_a_message(consultation, user) -> None:
    from consult.consultations.services import message_post

    message_post(context=SYSTEM, consultation=consultation, actor=user, body="补充病史")


def test_a_deactivated_doctors_sockets_are_closed_and_hear_nothing_more(
    in_review, county_doctor, alliance_admin
):
    reader = in_review.assigned_to

    async def scenario():
        live = await sync_to_async(_socket)("/ws/live/", county_doctor)
        case = await sync_to_async(_socket)(f"/ws/consultations/{in_review.pk}/", county_doctor)
        assert (await live.connect())[0] and (await case.connect())[0]

        def deactivate():
            county_doctor.is_active = False
            user_save(actor=alliance_admin, user=county_doctor, context=SYSTEM)

        await sync_to_async(deactivate)()
        assert await closed_with(live) == 4401
        assert await closed_with(case) == 4401
        await sync_to_async(post_a_message)(in_review, reader)
        assert await case.receive_nothing(timeout=1)

    run(scenario)


def test_a_logout_closes_the_sockets_of_that_session_only(in_review, county_doctor):
    reader = in_review.assigned_to
    browser, phone = Client(), Client()

    async def scenario():
        path = f"/ws/consultations/{in_review.pk}/"
        on_browser = await sync_to_async(signed_in_socket)(path, browser, county_doctor)
        on_phone = await sync_to_async(signed_in_socket)(path, phone, county_doctor)
        assert (await on_browser.connect())[0] and (await on_phone.connect())[0]

        await sync_to_async(browser.post)(reverse("logout"))
        assert await closed_with(on_browser) == 4401
        await sync_to_async(post_a_message)(in_review, reader)
        assert await on_browser.receive_nothing(timeout=1)
        assert (await on_phone.receive_json_from(timeout=5))["kind"] == "message"
        await on_phone.disconnect()

    run(scenario)


def test_a_socket_of_an_ended_session_is_refused(county_doctor):
    client = Client()

    async def scenario():
        def cookie_then_logout():
            socket = signed_in_socket("/ws/live/", client, county_doctor)
            client.post(reverse("logout"))
            return socket

        socket = await sync_to_async(cookie_then_logout)()
        connected, code = await socket.connect()
        assert not connected and code == 4401

    run(scenario)


def test_a_doctor_moved_to_another_hospital_loses_the_case_socket(
    in_review, county_doctor, alliance_admin, other_hospital
):
    async def scenario():
        case = await sync_to_async(_socket)(f"/ws/consultations/{in_review.pk}/", county_doctor)
        assert (await case.connect())[0]

        def move():
            county_doctor.hospital = other_hospital
            user_save(actor=alliance_admin, user=county_doctor, context=SYSTEM)

        await sync_to_async(move)()
        assert await closed_with(case) == 4403  # the page reconnects ...
        again = await sync_to_async(_socket)(f"/ws/consultations/{in_review.pk}/", county_doctor)
        connected, code = await again.connect()
        assert not connected and code == 4404  # ... and is refused: no longer their case

    run(scenario)
