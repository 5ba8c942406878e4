"""Consultations at scale: the SLA sweep and the two busiest list pages.

100 000 consultations (5 000 open) in a PostgreSQL database of their own. Measures
one sweep with nothing due and with 500 due, then the specialist worklist and the
coordinator dashboard under 20 concurrent users (a thread-per-user load generator
on loopback against uvicorn, WEB_CONCURRENCY workers), reporting p50/p95.

Sizes: BENCH_CONSULTATIONS (100000), BENCH_OPEN (5000), BENCH_DUE (500), BENCH_USERS (20),
BENCH_REQUESTS (20 per user). The data is kept between runs (seeded once).
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = str(ROOT / ".venv" / "bin" / "python")
DB_URL = os.environ.get(
    "BENCH_CONSULT_DATABASE_URL",
    "postgres://postgres:postgres@127.0.0.1:5432/pedslink_bench_consult",
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
TOTAL = int(os.environ.get("BENCH_CONSULTATIONS", "100000"))
OPEN = int(os.environ.get("BENCH_OPEN", "5000"))
DUE = int(os.environ.get("BENCH_DUE", "500"))
USERS = int(os.environ.get("BENCH_USERS", "20"))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "20"))
WORKERS = os.environ.get("WEB_CONCURRENCY", "2")
# Seconds a user waits between requests (locust's `between(THINK/2, THINK*1.5)`); 0 = none.
THINK = float(os.environ.get("BENCH_THINK", "1"))


def run() -> None:
    """Measure in a child process so that Django uses the bench database only."""
    env = {
        **os.environ,
        "DATABASE_URL": DB_URL,
        "REDIS_URL": REDIS_URL,
        "DEBUG": "1",
        "LOG_LEVEL": "WARNING",
        "SMS_BACKEND": "core.sms.LocmemSmsBackend",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
    }
    subprocess.run([PY, "-m", "bench.consult", "--inner"], cwd=ROOT, env=env, check=True)


def _ensure_database() -> None:
    import psycopg

    name = DB_URL.rsplit("/", 1)[1]
    with psycopg.connect(DB_URL.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname=%s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def _seed() -> None:
    import datetime as dt
    import random

    from django.db import transaction
    from django.utils.timezone import now

    from consult.models import (
        Consultation,
        ConsultationEvent,
        Hospital,
        OnCallShift,
        Patient,
        Role,
        SpecialistSubspecialty,
        Status,
        Tier,
        User,
    )
    from viewer.models import Study

    if Consultation.objects.count() >= TOTAL:
        return
    rng = random.Random(5)
    at = now()
    print(f"seeding {TOTAL} consultations ({OPEN} open)…", flush=True)
    with transaction.atomic():
        center = Hospital.objects.create(
            code="B-EXP",
            name_zh="基准儿童医院",
            tier=Tier.EXPERT_CENTER,
            province="浙江省",
            city="杭州",
        )
        hospitals = Hospital.objects.bulk_create(
            Hospital(
                code=f"B-{i:03d}",
                name_zh=f"基准县医院{i}",
                tier=Tier.COUNTY,
                province="浙江省",
                city="温州",
            )
            for i in range(20)
        )
        doctors = [
            User.objects.create_user(
                f"bdoc{i}",
                password=None,
                role=Role.REFERRING_DOCTOR,
                hospital=hospitals[i % 20],
                full_name=f"医生{i}",
            )
            for i in range(100)
        ]
        specialists = [
            User.objects.create_user(
                f"bspec{i}",
                password=None,
                role=Role.SPECIALIST,
                hospital=center,
                full_name=f"专家{i}",
            )
            for i in range(40)
        ]
        for i in range(3):
            User.objects.create_user(
                f"bcoord{i}",
                password=None,
                role=Role.COORDINATOR,
                hospital=center,
                full_name=f"协调员{i}",
            )
        codes = ["abdominal", "cardiac", "neuro", "msk", "oncology", "general"]
        SpecialistSubspecialty.objects.bulk_create(
            SpecialistSubspecialty(specialist=s, subspecialty=codes[i % 6])
            for i, s in enumerate(specialists)
        )
        OnCallShift.objects.bulk_create(
            OnCallShift(
                specialist=s,
                subspecialty=codes[i % 6],
                start=at - dt.timedelta(days=1),
                end=at + dt.timedelta(days=365),
            )
            for i, s in enumerate(specialists)
        )
        patients = Patient.objects.bulk_create(
            Patient(
                name=f"基准儿童{i}",
                sex="M",
                birth_date=dt.date(2020, 1, 1) + dt.timedelta(days=i % 2000),
                home_hospital=hospitals[i % 20],
            )
            for i in range(20000)
        )
    open_statuses = (
        [Status.SUBMITTED] * 2
        + [Status.ASSIGNED] * 4
        + [Status.IN_REVIEW] * 3
        + [Status.INFO_REQUESTED]
    )
    batch: list[Consultation] = []
    for i in range(TOTAL):
        patient = patients[i % len(patients)]
        is_open = i >= TOTAL - OPEN
        status = open_statuses[i % 10] if is_open else Status.CLOSED
        submitted = at - dt.timedelta(
            minutes=rng.randint(0, 60) if is_open else rng.randint(600, 500000)
        )
        spec = specialists[i % 40]
        batch.append(
            Consultation(
                patient=patient,
                hospital_id=patient.home_hospital_id,
                requested_by=doctors[(i % 20) + 20 * (i % 5)],
                subspecialty=codes[i % 40 % 6],
                priority="urgent" if i % 7 == 0 else "routine",
                question="是否肠套叠？",
                clinical_history="腹痛",
                status=status,
                assigned_to=None if status == Status.SUBMITTED else spec,
                submitted_at=submitted,
                reported_at=None if is_open else submitted + dt.timedelta(hours=3),
                sla_paused_since=at if status == Status.INFO_REQUESTED else None,
                next_deadline=(submitted + dt.timedelta(minutes=30 if i % 7 == 0 else 120))
                if is_open and status != Status.INFO_REQUESTED
                else None,
            )
        )
        if len(batch) == 5000:
            Consultation.objects.bulk_create(batch)
            batch = []
    Consultation.objects.bulk_create(batch)
    open_cases = list(
        Consultation.objects.filter(status__in=open_statuses).values_list(
            "pk", "patient_id", "hospital_id"
        )
    )
    studies = Study.objects.bulk_create(
        Study(
            study_instance_uid=f"2.25.{pk}",
            patient_id=p,
            hospital_id=h,
            modalities="US",
            description="腹部超声",
            number_of_instances=20,
        )
        for pk, p, h in open_cases
    )
    Consultation.studies.through.objects.bulk_create(
        Consultation.studies.through(consultation_id=pk, study_id=s.pk)
        for (pk, _p, _h), s in zip(open_cases, studies, strict=True)
    )
    closed = Consultation.objects.filter(status=Status.CLOSED).values_list("pk", flat=True)[:2000]
    ConsultationEvent.objects.bulk_create(
        ConsultationEvent(
            consultation_id=pk,
            at=at - dt.timedelta(hours=i % 500),
            kind=ConsultationEvent.Kind.SLA_BREACH,
        )
        for i, pk in enumerate(closed)
    )
    print("seeded", flush=True)


def _timed(fn, repeat: int) -> list[float]:  # noqa: ANN001
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def _sweeps() -> None:
    from django.utils.timezone import now

    from consult.consultations.sla import sla_sweep
    from consult.models import Consultation, ConsultationEvent, Status
    from core.models import Notification

    # Repeatable starting point: every running open case submitted 10 min ago, nothing due.
    opened = Consultation.objects.filter(
        status__in=[Status.SUBMITTED, Status.ASSIGNED, Status.IN_REVIEW]
    )
    ConsultationEvent.objects.filter(sla_stage__isnull=False).delete()
    Notification.objects.all().delete()
    opened.update(
        submitted_at=now() - time_delta(minutes=10),
        sla_stage=0,
        breached_at=None,
        next_deadline=now() + time_delta(minutes=20),
    )
    idle = _timed(sla_sweep, 30)
    print(
        f"sweep, nothing due ({OPEN} open of {Consultation.objects.count()}): "
        f"median {statistics.median(idle):.1f} ms, max {max(idle):.1f} ms",
        flush=True,
    )
    due_ids = list(
        Consultation.objects.filter(
            status__in=[Status.ASSIGNED, Status.IN_REVIEW], sla_stage=0, priority="routine"
        ).values_list("pk", flat=True)[:DUE]
    )
    # Due for the reminder only, as if 2.5 h had passed (routine: remind 2 h, warn 4 h).
    Consultation.objects.filter(pk__in=due_ids).update(
        submitted_at=now() - time_delta(hours=2.5), next_deadline=now()
    )
    start = time.perf_counter()
    steps = sla_sweep(limit=10 * DUE)
    took = time.perf_counter() - start
    events = ConsultationEvent.objects.filter(consultation_id__in=due_ids, sla_stage=0).count()
    print(
        f"sweep, {len(due_ids)} due: {steps} steps ({events} reminders recorded) in "
        f"{took:.2f} s ({took / max(steps, 1) * 1000:.1f} ms per step)",
        flush=True,
    )


def time_delta(**kwargs: float):  # noqa: ANN201
    import datetime as dt

    return dt.timedelta(**kwargs)


def _sessions(prefix: str, count: int) -> list[str]:
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from consult.models import User

    keys = []
    users = list(User.objects.filter(username__startswith=prefix).order_by("pk"))
    for i in range(count):
        user = users[i % len(users)]
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.set_expiry(3600)
        session.save()
        keys.append(session.session_key)
    return keys


def _load(port: int, path: str, keys: list[str]) -> tuple[list[float], int]:
    import http.client

    def user(key: str) -> tuple[list[float], int]:
        rng = random.Random(key)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        out, errors = [], 0
        for i in range(REQUESTS + 2):
            start = time.perf_counter()
            conn.request(
                "GET", path, headers={"Cookie": f"sessionid={key}", "Accept-Language": "zh-hans"}
            )
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                errors += 1
            if i >= 2:  # the first two are warm-up
                out.append((time.perf_counter() - start) * 1000)
            if THINK:
                time.sleep(rng.uniform(THINK / 2, THINK * 1.5))
        conn.close()
        return out, errors

    with ThreadPoolExecutor(len(keys)) as pool:
        results = list(pool.map(user, keys))
    return [x for r, _e in results for x in r], sum(e for _r, e in results)


def _http() -> None:
    from tests.processes import free_port, port_open, wait_for

    port = free_port()
    env = {**os.environ}
    server = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/uvicorn"),
            "pedslink.asgi:application",
            "--port",
            str(port),
            "--workers",
            WORKERS,
            "--lifespan",
            "off",
            "--log-level",
            "warning",
            "--no-proxy-headers",  # as the Procfile: TRUSTED_PROXIES decides, in Django
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        wait_for(lambda: port_open(port), 30, message="uvicorn")
        time.sleep(2)
        for label, path, prefix in (
            ("worklist", "/worklist/", "bspec"),
            ("dashboard", "/coordinator/dashboard/", "bcoord"),
        ):
            if THINK:
                label += f" (think {THINK / 2:g}-{THINK * 1.5:g} s between requests)"
            times, errors = _load(port, path, _sessions(prefix, USERS))
            times.sort()
            p95 = times[int(len(times) * 0.95) - 1]
            print(
                f"{label}: {USERS} concurrent users × {REQUESTS} requests, "
                f"{WORKERS} uvicorn workers: p50 {statistics.median(times):.0f} ms, "
                f"p95 {p95:.0f} ms, errors {errors}",
                flush=True,
            )
    finally:
        server.terminate()
        server.wait(10)


def _inner() -> None:
    _ensure_database()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pedslink.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    _seed()
    _sweeps()
    _http()


if __name__ == "__main__":
    if "--inner" in sys.argv:
        _inner()
    else:
        run()
