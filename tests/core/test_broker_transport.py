"""The broker transport survives a Redis restart (core/broker.py).

What stopped workers after a Redis restart: the consumer collects its lost connection,
then closes it; a channel that also consumes a fanout queue (the worker's remote-control
queue) is left half closed, and closing it or acknowledging a late task on it raised
AttributeError with kombu's own transport. Celery only recovers from connection errors,
so the worker died. Here both happen against a real Redis that is killed mid-consume.
"""

import contextlib
import logging

from django.conf import settings
from kombu import Connection, Consumer, Exchange, Queue

from pedslink.celery import app


def test_the_worker_uses_our_broker_transport():
    with app.connection_for_read() as connection:
        assert type(connection.transport).__module__ == "core.broker"


def test_lost_redis_is_a_connection_error_the_worker_recovers_from(private_redis, caplog):
    connection = Connection(private_redis.url, transport=settings.CELERY_BROKER_TRANSPORT)
    channel = connection.default_channel
    work = Queue("work", Exchange("work", type="direct"), routing_key="work")
    control = Queue("control.w1", Exchange("control", type="fanout"), auto_delete=True)
    received = []
    Consumer(
        channel, [work, control], callbacks=[lambda body, m: received.append(m)], accept=["json"]
    ).consume()
    connection.Producer().publish({"sweep": 1}, exchange="work", routing_key="work")
    connection.drain_events(timeout=5)
    [message] = received
    # The worker then waits for the next message (BRPOP and SUBSCRIBE outstanding).
    with contextlib.suppress(TimeoutError):
        connection.drain_events(timeout=0.2)

    private_redis.kill()
    # What the consumer does on a lost connection before it reconnects: neither may raise
    # anything but a connection error (kombu's own transport raised AttributeError here).
    with contextlib.suppress(connection.connection_errors):
        connection.collect(socket_timeout=1)
    connection.close()
    # The task finishes later and is acknowledged on its old channel: logged, not raised.
    with caplog.at_level(logging.CRITICAL):
        message.ack_log_error(logging.getLogger("pedslink.test"), connection.connection_errors)
    assert "Couldn't ack" in caplog.text
