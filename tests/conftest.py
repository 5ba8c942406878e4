"""The named cast every test can use.

A referring doctor at a county hospital and one at a township hospital, a
specialist and a coordinator at the expert center, an alliance admin, and an
outsider: a doctor at another county hospital who must see nothing of theirs.
"""

import pytest

from consult.models import Role, Subspecialty, Tier
from tests.factories import PASSWORD, HospitalFactory, PatientFactory, UserFactory


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture
def expert_center(db):
    return HospitalFactory(
        code="EXPERT",
        name_zh="省儿童医院",
        name_en="Provincial Children's Hospital",
        tier=Tier.EXPERT_CENTER,
        city="杭州市",
        county="",
    )


@pytest.fixture
def county_hospital(db):
    return HospitalFactory(
        code="COUNTY", name_zh="永嘉县人民医院", name_en="Yongjia County Hospital"
    )


@pytest.fixture
def township_hospital(db):
    return HospitalFactory(
        code="TOWN",
        name_zh="桥头镇卫生院",
        name_en="Qiaotou Township Health Center",
        tier=Tier.TOWNSHIP,
    )


@pytest.fixture
def other_hospital(db):
    return HospitalFactory(
        code="OTHER", name_zh="文成县人民医院", name_en="Wencheng County Hospital"
    )


@pytest.fixture
def county_doctor(county_hospital):
    return UserFactory(username="county_doc", full_name="张医生", hospital=county_hospital)


@pytest.fixture
def township_doctor(township_hospital):
    return UserFactory(username="town_doc", full_name="陈医生", hospital=township_hospital)


@pytest.fixture
def outsider(other_hospital):
    """A doctor at another hospital: must see nothing of the county hospital's children."""
    return UserFactory(username="outsider", full_name="赵医生", hospital=other_hospital)


@pytest.fixture
def specialist(expert_center):
    return UserFactory(
        username="specialist",
        full_name="刘主任",
        role=Role.SPECIALIST,
        hospital=expert_center,
        subspecialties=[Subspecialty.ABDOMINAL, Subspecialty.GENERAL],
    )


@pytest.fixture
def coordinator(expert_center):
    return UserFactory(
        username="coordinator", full_name="周协调", role=Role.COORDINATOR, hospital=expert_center
    )


@pytest.fixture
def alliance_admin(expert_center):
    return UserFactory(
        username="admin", full_name="孙管理", role=Role.ADMIN, hospital=expert_center
    )


@pytest.fixture
def child(county_hospital):
    """A child registered at the county hospital."""
    return PatientFactory(name="李小明", home_hospital=county_hospital, mrn="C000123")


@pytest.fixture
def login(client):
    """Log a user in on the test client and return the client."""

    def _login(user):
        client.force_login(user)
        return client

    return _login


pytest_plugins = ["tests.browser"]


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    # Keep each phase's report on the item so fixtures can screenshot failed browser tests.
    report = yield
    setattr(item, "rep_" + report.when, report)
    return report


@pytest.fixture
def private_redis(tmp_path):
    """A Redis server of the test's own on a free port, which the test may stop."""
    from tests.processes import free_port, port_open, redis_server, wait_for

    port = free_port()
    server = redis_server(port, tmp_path).start()
    server.url = f"redis://127.0.0.1:{port}/0"
    wait_for(lambda: port_open(port), timeout=10, message="private Redis")
    yield server
    server.stop()


@pytest.fixture
def client_factory():
    """Make more test clients, for stories with two people at once."""
    from django.test import Client

    return Client


@pytest.fixture
def media_root(settings, tmp_path):
    """Stored files go to a fresh folder per test; access and audit de-duplication start
    afresh."""
    from django.core.cache import cache

    settings.MEDIA_ROOT = str(tmp_path / "media")
    cache.clear()
    return tmp_path / "media"


@pytest.fixture
def server(transactional_db, media_root, tmp_path):
    """uvicorn with pedslink.asgi against the test database, Redis and stored files, with
    SITE_URL its own address as `make run` sets it."""
    from types import SimpleNamespace

    from tests.processes import free_port, port_open, subprocess_env, uvicorn_server, wait_for

    port = free_port()
    env = subprocess_env(MEDIA_ROOT=str(media_root), SITE_URL=f"http://127.0.0.1:{port}")
    process = uvicorn_server(port, env, tmp_path).start()
    try:
        wait_for(lambda: port_open(port), 30, message=lambda: "uvicorn\n" + process.output())
        yield SimpleNamespace(url=f"http://127.0.0.1:{port}", port=port, process=process)
    finally:
        process.kill()


@pytest.fixture
def english(settings):
    """Messages in English, for tests that match refusal texts (the default is Chinese)."""
    from django.utils import translation

    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield
