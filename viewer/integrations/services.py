"""Hospital systems' ways in: integration tokens (bearer secrets for DICOMweb and the API)
and registered DICOM nodes (C-STORE senders)."""

from __future__ import annotations

import hashlib
import logging
import secrets

import redis
from django.db import transaction
from django.utils.timezone import now
from django.utils.translation import gettext_lazy as _

from consult.models import Hospital, Role, User
from core.audit import Action, audit_record
from pedslink.redis_client import shared_redis
from viewer.models import DicomNode, IntegrationToken

log = logging.getLogger(__name__)


def token_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


TOKEN_GENERATION_KEY = "pedslink:viewer:token-generation"  # noqa: S105 - a Redis key


def token_generation() -> bytes | None:
    """The counter every process's token cache (viewer.integrations.auth) is checked against; None
    when Redis cannot answer (the caller then reads the database)."""
    try:
        # redis-py's types allow str, but this client does not decode responses.
        return shared_redis().get(TOKEN_GENERATION_KEY) or b"0"  # type: ignore[return-value]
    except redis.RedisError:
        log.warning("token generation unreadable: tokens are looked up in the database")
        return None


def token_generation_bump() -> None:
    """Forget every cached token resolution, now and again when the caller's transaction
    commits (a request between the two must not keep what it read before the commit)."""

    def bump() -> None:
        try:
            shared_redis().incr(TOKEN_GENERATION_KEY)
        except redis.RedisError:
            log.warning("token generation not bumped: cached tokens expire on their own")

    bump()
    transaction.on_commit(bump)


@transaction.atomic
def integration_token_create(
    *, hospital: Hospital, name: str, created_by: User
) -> tuple[IntegrationToken, str]:
    """A new token for a hospital's system; the secret is returned once and never stored."""
    secret = "pl_" + secrets.token_urlsafe(32)
    account = User.objects.create(
        username=f"integration-{hospital.code}-{secrets.token_hex(4)}"[:150],
        full_name=str(_("Integration: %(name)s") % {"name": name})[:100],
        role=Role.REFERRING_DOCTOR,
        hospital=hospital,
    )
    account.set_unusable_password()
    account.save(update_fields=["password"])
    token = IntegrationToken.objects.create(
        hospital=hospital,
        name=name,
        prefix=secret[:10],
        token_hash=token_digest(secret),
        account=account,
        created_by=created_by,
    )
    audit_record(user=created_by, action=Action.CREATE, obj=token)
    return token, secret


@transaction.atomic
def integration_token_revoke(*, token: IntegrationToken, user: User) -> None:
    if token.revoked_at is not None:
        return
    IntegrationToken.objects.filter(pk=token.pk).update(revoked_at=now())
    User.objects.filter(pk=token.account_id).update(is_active=False)
    token_generation_bump()
    audit_record(user=user, action=Action.UPDATE, obj=token, reason="revoked")


@transaction.atomic
def dicom_node_create(
    *, hospital: Hospital, ae_title: str, allowed_ips: str, description: str, user: User
) -> DicomNode:
    node = DicomNode(
        hospital=hospital,
        ae_title=ae_title.strip(),
        allowed_ips=allowed_ips.strip(),
        description=description,
    )
    node.full_clean()
    node.save()
    audit_record(user=user, action=Action.CREATE, obj=node)
    return node


@transaction.atomic
def dicom_node_deactivate(*, node: DicomNode, user: User) -> None:
    DicomNode.objects.filter(pk=node.pk).update(is_active=False)
    audit_record(user=user, action=Action.UPDATE, obj=node, reason="deactivated")


def dicom_node_for(ae_title: str, address: str) -> DicomNode | None:
    """The active node with this AE title whose allowed addresses include `address`."""
    node = (
        DicomNode.objects.filter(ae_title=ae_title.strip(), is_active=True)
        .select_related("hospital")
        .first()
    )
    return node if node is not None and node.allows(address) else None
