"""End to end: the SLA ladder enforced by a real Celery worker and beat (subprocesses) against
the test database and a private Redis, with the policy shortened to seconds.

Each step must happen exactly once, also with two beats and a prefork pool racing, with
the worker SIGKILLed mid-run and restarted, and with Redis killed and restarted.
"""

import time

import pytest

from consult.consultations.services import consultation_submit
from consult.consultations.sla import sla_policy_update
from consult.models import ConsultationAssignment, ConsultationEvent, Subspecialty
from core.audit import SYSTEM
from core.models import Notification
from core.sms import read_sms_file_outbox
from tests.factories import ConsultationFactory, UserFactory, on_call
from tests.processes import (
    celery_beat,
    celery_worker,
    free_port,
    port_open,
    redis_server,
    subprocess_env,
    wait_for,
)

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
K = ConsultationEvent.Kind
LADDER = [K.SLA_REMIND, K.SLA_WARN, K.SLA_BREACH, K.SLA_REASSIGN]
# Remind at 3 s, warn at 6 s, breach (reassign) at 10 s, reassign again at 18 s.
POLICY = {"target_seconds": 6, "breach_seconds": 10, "remind_percent": 50, "repeat_seconds": 8}


@pytest.fixture
def stack(tmp_path, settings):
    """A private Redis plus env for workers and beats; everything is killed at the end."""
    port = free_port()
    redis = redis_server(port, tmp_path).start()
    wait_for(lambda: port_open(port), 10, message="redis")
    sms_dir = tmp_path / "sms"
    env = subprocess_env(
        REDIS_URL=f"redis://127.0.0.1:{port}/0",
        SLA_SWEEP_SECONDS="1",
        NOTIFICATION_SWEEP_SECONDS="2",
        SMS_BACKEND="core.sms.FileSmsBackend",
        SMS_FILE_PATH=str(sms_dir),
        EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend",
    )
    # The test process queues delivery on commit too: keep it off the shared broker.
    settings.CELERY_TASK_ALWAYS_EAGER = False
    procs = {"redis": redis}

    class Stack:
        def __init__(self):
            self.env, self.sms_dir, self.port, self.tmp = env, sms_dir, port, tmp_path

        def start(self, proc):
            procs[proc.name] = proc.start()
            return proc

        def restart_redis(self):
            procs["redis"].kill()
            time.sleep(1)
            procs["redis"] = redis_server(port, tmp_path).start()
            wait_for(lambda: port_open(port), 10, message="redis again")

        def logs(self):
            return "\n".join(f"--- {n}\n{p.output()[-3000:]}" for n, p in procs.items())

    yield Stack()
    for proc in procs.values():
        proc.kill()


@pytest.fixture
def case(county_doctor, child, specialist, coordinator, expert_center, monkeypatch):
    colleague = UserFactory(
        username="colleague",
        role="specialist",
        hospital=expert_center,
        subspecialties=[Subspecialty.ABDOMINAL],
    )
    on_call(specialist, Subspecialty.ABDOMINAL)
    on_call(colleague, Subspecialty.ABDOMINAL)
    coordinator.mobile = "13800000009"
    coordinator.save()
    for priority in ("routine", "urgent"):
        sla_policy_update(context=SYSTEM, actor=coordinator, priority=priority, **POLICY)
    # Delivery is queued by the worker's sweep, not by this process's broker connection.
    monkeypatch.setattr("core.notify._queue", lambda task, ids: None)
    return ConsultationFactory(
        patient=child, hospital=child.home_hospital, requested_by=county_doctor
    )


def _ladder(case):
    return list(
        case.events.filter(kind__in=LADDER).order_by("sla_stage").values_list("kind", flat=True)
    )


def _submit_and_check(case, stack, during=None):
    consultation_submit(context=SYSTEM, consultation=case, actor=case.requested_by)
    first = case.assignments.get().specialist
    if during:
        during()
    wait_for(
        lambda: K.SLA_REASSIGN in _ladder(case),
        120,
        message=lambda: "the first repeat reassignment\n" + stack.logs(),
    )
    # Stop further repeats, then give racing sweeps time to do anything twice.
    sla_policy_update(
        context=SYSTEM,
        actor=case.requested_by,
        priority="routine",
        **{**POLICY, "repeat_seconds": 3600},
    )
    time.sleep(3)
    assert _ladder(case) == LADDER, stack.logs()
    for kind in LADDER:
        assert case.events.filter(kind=kind).count() == 1
    case.refresh_from_db()
    assert case.breached_at is not None
    breach_moves = ConsultationAssignment.objects.filter(consultation=case).order_by("at")
    assert [a.specialist_id for a in breach_moves][:2] != [first.pk, first.pk]
    assert breach_moves.count() == 3, "routed once, reassigned at breach and at the repeat"
    # Every outbox SMS was delivered, and delivered once.
    rows = Notification.objects.filter(channel="sms", recipient__mobile="13800000009")
    wait_for(
        lambda: not rows.exclude(state="sent").exists(),
        90,
        message=lambda: "SMS delivery\n" + stack.logs(),
    )
    sent = [m for m in read_sms_file_outbox(stack.sms_dir) if m["to"] == "13800000009"]
    assert len(sent) == rows.count() == 3  # warned, breached, reassigned again


def test_ladder_runs_exactly_once_with_two_beats_and_a_pool(case, stack):
    stack.start(celery_worker("w1", stack.env, stack.tmp, concurrency=2))
    stack.start(celery_worker("w2", stack.env, stack.tmp, concurrency=1))
    stack.start(celery_beat("beat1", stack.env, stack.tmp))
    stack.start(celery_beat("beat2", stack.env, stack.tmp))
    _submit_and_check(case, stack)


def test_worker_killed_mid_run_loses_and_repeats_nothing(case, stack):
    worker = stack.start(celery_worker("w1", stack.env, stack.tmp))
    stack.start(celery_beat("beat", stack.env, stack.tmp))

    def kill_then_restart():
        wait_for(
            lambda: K.SLA_REMIND in _ladder(case), 30, message=lambda: "remind\n" + stack.logs()
        )
        worker.kill()  # SIGKILL, pool children too
        time.sleep(8)  # warn and breach fall due while no worker runs
        assert _ladder(case) == [K.SLA_REMIND]
        stack.start(celery_worker("w1b", stack.env, stack.tmp))

    _submit_and_check(case, stack, during=kill_then_restart)


def test_redis_restart_loses_and_repeats_nothing(case, stack):
    stack.start(celery_worker("w1", stack.env, stack.tmp))
    stack.start(celery_beat("beat", stack.env, stack.tmp))

    def restart_redis():
        wait_for(
            lambda: K.SLA_REMIND in _ladder(case), 30, message=lambda: "remind\n" + stack.logs()
        )
        stack.restart_redis()

    _submit_and_check(case, stack, during=restart_redis)
