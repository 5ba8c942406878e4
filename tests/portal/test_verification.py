"""Date of birth, then a one-time code; attempts limited per link and per address in Redis."""

import datetime as dt
import subprocess
import sys

import time_machine
from django.utils.timezone import now

from consult.portal.services import portal_share_create
from core.audit import SYSTEM
from core.models import Notification
from tests.portal.conftest import link_token, post, signed_portal_cookie, sms_code
from tests.processes import ROOT, subprocess_env

WRONG_DOB = {"action": "dob", "birth_date": "2020-01-01"}


def _dob(child):  # noqa: ANN001, ANN202
    return {"action": "dob", "birth_date": child.birth_date.isoformat()}


def test_birth_date_then_code_opens_the_report(client, share_link, child, mother, english):
    _, token = share_link
    client.get(f"/p/{token}")
    assert "date of birth" in client.get("/p/").content.decode()
    assert post(client, _dob(child))["Location"] == "/p/"
    page = client.get("/p/").content.decode()
    assert "ending in 1111" in page
    response = post(client, {"action": "code", "code": sms_code(mother.mobile)})
    assert response["Location"] == "/p/report/"
    report = client.get("/p/report/")
    text = report.content.decode()
    assert report.status_code == 200
    assert child.first_name in text and "回结肠型肠套叠" in text
    assert child.name not in text  # first name only
    assert "0577-88880000" in text


def test_report_is_refused_before_the_code(client, share_link, child):
    _, token = share_link
    client.get(f"/p/{token}")
    assert client.get("/p/report/")["Location"] == "/p/"
    post(client, _dob(child))
    assert client.get("/p/report/")["Location"] == "/p/"
    assert client.get("/p/report/pdf/")["Location"] == "/p/"


def test_wrong_birth_date_says_how_many_tries_are_left(client, share_link, english):
    _, token = share_link
    client.get(f"/p/{token}")
    text = post(client, WRONG_DOB).content.decode()
    assert "You have 4 tries left" in text
    assert not Notification.objects.filter(kind="portal_code").exists()


def test_five_wrong_tries_lock_the_link_even_for_the_right_answer(
    client, share_link, child, english
):
    _, token = share_link
    client.get(f"/p/{token}")
    for _ in range(5):
        response = post(client, WRONG_DOB)
    assert response.status_code == 429 and "locked for 15 minutes" in response.content.decode()
    assert post(client, _dob(child)).status_code == 429
    assert not Notification.objects.filter(kind="portal_code").exists()


def test_the_lock_holds_for_the_link_from_another_address(client_factory, share_link, child):
    _, token = share_link
    first = client_factory(REMOTE_ADDR="10.0.0.1")
    first.get(f"/p/{token}")
    for _ in range(5):
        post(first, WRONG_DOB)
    second = client_factory(REMOTE_ADDR="10.0.0.2")
    second.get(f"/p/{token}")
    assert post(second, _dob(child)).status_code == 429


def test_one_address_is_locked_across_links(
    client_factory, signed_report, mother, father, county_doctor, child
):
    portal_share_create(
        report=signed_report, guardians=[mother, father], user=county_doctor, context=SYSTEM
    )
    guesser = client_factory(REMOTE_ADDR="10.9.9.9")
    guesser.get(f"/p/{link_token(mother.mobile)}")
    for _ in range(5):
        post(guesser, WRONG_DOB)
    guesser.get(f"/p/{link_token(father.mobile)}")
    assert post(guesser, _dob(child)).status_code == 429


def test_failures_counted_by_another_process_lock_this_one(client, share_link, child):
    """The counts live in Redis: a second Python process's failures lock this process too."""
    share, token = share_link
    code = (
        "import django; django.setup();"
        "from consult.portal import limits as p;"
        f"[p.attempt_take(share_id={share.pk}, ip='10.1.1.1') for _ in range(5)]"
    )
    env = subprocess_env(DJANGO_SETTINGS_MODULE="pedslink.settings")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, timeout=60)
    client.get(f"/p/{token}")
    assert post(client, _dob(child)).status_code == 429


def test_lock_lasts_the_lock_time_after_the_last_try(client, share_link, child, settings):
    """Redis expires the counters (time_machine cannot move Redis's clock: read the TTLs)."""
    import redis

    settings.PORTAL_LOCK_MINUTES = 7
    share, token = share_link
    client.get(f"/p/{token}")
    for _ in range(5):
        post(client, WRONG_DOB)
    r = redis.Redis.from_url(settings.PORTAL_LIMIT_REDIS_URL)
    assert 7 * 60 - 5 <= r.ttl(f"portal:fail:link:{share.pk}") <= 7 * 60
    assert 7 * 60 - 5 <= r.ttl("portal:fail:ip:127.0.0.1") <= 7 * 60
    r.delete(f"portal:fail:link:{share.pk}", "portal:fail:ip:127.0.0.1")  # the lock time is over
    assert post(client, _dob(child)).status_code == 302


def test_wrong_code_counts_and_says_tries_left(client, share_link, child, english):
    _, token = share_link
    client.get(f"/p/{token}")
    post(client, _dob(child))
    text = post(client, {"action": "code", "code": "000000"}).content.decode()
    assert "You have 4 tries left" in text


def test_code_expires_after_ten_minutes(client, share_link, child, mother, english):
    _, token = share_link
    client.get(f"/p/{token}")
    post(client, _dob(child))
    code = sms_code(mother.mobile)
    with time_machine.travel(now() + dt.timedelta(minutes=11)):
        # The cookie carries a signing time too; sign a fresh one at the travelled time.
        client.cookies["pl_portal"] = _code_stage_cookie(client, share_link[0])
        response = post(client, {"action": "code", "code": code})
        assert "That is not right" in response.content.decode()
        assert client.get("/p/report/")["Location"] == "/p/"


def _code_stage_cookie(client, share):  # noqa: ANN001, ANN202
    return signed_portal_cookie({"s": share.pk, "st": "code", "k": "test-form-key"})


def test_a_code_works_once(client_factory, share_link, child, mother):
    _, token = share_link
    first = client_factory()
    first.get(f"/p/{token}")
    post(first, _dob(child))
    code = sms_code(mother.mobile)
    assert post(first, {"action": "code", "code": code})["Location"] == "/p/report/"
    second = client_factory()
    second.get(f"/p/{token}")
    second.cookies["pl_portal"] = _code_stage_cookie(second, share_link[0])
    assert post(second, {"action": "code", "code": code}).status_code == 200
    assert second.get("/p/report/")["Location"] == "/p/"


def test_codes_per_hour_are_limited(client, share_link, child, english):
    _, token = share_link
    client.get(f"/p/{token}")
    post(client, _dob(child))
    for _ in range(4):
        post(client, {"action": "resend"})
    text = post(client, {"action": "resend"}, follow=True).content.decode()
    assert "Several codes were sent in the last hour" in text
    assert Notification.objects.filter(kind="portal_code").count() == 5


def test_fails_closed_when_the_limit_store_is_down(
    client, share_link, child, private_redis, settings, english
):
    settings.PORTAL_LIMIT_REDIS_URL = private_redis.url
    _, token = share_link
    client.get(f"/p/{token}")
    private_redis.stop()
    response = post(client, _dob(child))
    assert response.status_code == 503
    assert "Please try again in a few minutes" in response.content.decode()
    assert not Notification.objects.filter(kind="portal_code").exists()


def test_parallel_tries_cannot_exceed_the_limit(share_link):
    """Tries are reserved before the answer is read: ten at once, only five are checked."""
    from concurrent.futures import ThreadPoolExecutor

    from consult.portal import limits as portal_limits

    share, _ = share_link
    with ThreadPoolExecutor(10) as pool:
        results = list(
            pool.map(
                lambda i: portal_limits.attempt_take(share_id=share.pk, ip=f"10.2.0.{i}"),
                range(10),
            )
        )
    assert sorted(r for r in results if r is not None) == [0, 1, 2, 3, 4]
    assert results.count(None) == 5


def test_a_right_answer_does_not_use_up_a_try(client, share_link, child, english):
    _, token = share_link
    client.get(f"/p/{token}")
    post(client, WRONG_DOB)
    post(client, _dob(child))
    client.get(f"/p/{token}")  # back to the first step
    assert "You have 3 tries left" in post(client, WRONG_DOB).content.decode()
