"""The Celery broker transport: kombu's Redis transport, made to survive a Redis restart.

kombu 5.7 (the newest release; celery/kombu has no fix released) leaves a worker that lost
Redis with channels that outlive their transport: when the consumer reconnects it first
collects the dead connection (which detaches the transport from its `Connection`, setting
`transport.client` to None) and then closes it again, and a task that finishes after the
loss acknowledges its message on its old channel. Both reach
`Channel._connparams()`, which reads `self.connection.client.hostname` and raises
`AttributeError`. That is not one of the transport's connection errors, so Celery does not
treat it as a lost connection: the consumer's restart dies with "Unrecoverable error" and
the worker stops consuming until it is restarted by hand (about one Redis restart in three,
whenever a task was in flight or unacknowledged at the moment Redis went away).

Here a channel whose transport was detached raises redis' `ConnectionError` instead, which
kombu and Celery already handle as what it is: the restore of unacknowledged messages and
the late acknowledgement are given up (logged as "Couldn't ack"), and the consumer
reconnects. Nothing is lost by giving them up: every periodic task here is a sweep over
the database (consult/consultations/sla.py), so a message that was not acknowledged is simply done
by the next sweep, exactly once because the sweep claims rows in the database.

Selected with `CELERY_BROKER_TRANSPORT` in settings; the broker URL stays `redis://...`.
"""

from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous=False):
        if self.connection is None or self.connection.client is None:
            raise RedisConnectionError("the broker connection of this channel is closed")
        return super()._connparams(asynchronous=asynchronous)


class Transport(kombu_redis.Transport):
    Channel = Channel
