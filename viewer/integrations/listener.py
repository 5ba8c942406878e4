"""The DICOM C-STORE listener (pynetdicom): registered nodes only, same ingest pipeline.

An association is refused unless its calling AE title is a registered, active node of a
member hospital and the peer's address is one of that node's allowed addresses. A bad
dataset answers a failure status with an error comment; the association carries on.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connections
from django.utils import translation
from pydicom.uid import AllTransferSyntaxes
from pynetdicom import AE, _config, evt
from pynetdicom.presentation import AllStoragePresentationContexts
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]
from pynetdicom.transport import ThreadedAssociationServer

from viewer.ingest.services import FLUSH_EVERY, Outcome, Sender, ingest_flush, instance_ingest
from viewer.integrations.services import dicom_node_for
from viewer.models import Source

log = logging.getLogger(__name__)

# Datasets are written to a temporary file as they arrive, never held whole in memory.
_config.STORE_RECV_CHUNKED_DATASET = True
# Decoding is ours (header only); do not let pynetdicom decode and re-encode.
_config.UNRESTRICTED_STORAGE_SERVICE = True

STATUS_SUCCESS = 0x0000
STATUS_DUPLICATE = 0x0111  # different bytes under a stored SOP Instance UID
STATUS_CANNOT_UNDERSTAND = 0xC000
STATUS_OUT_OF_RESOURCES = 0xA700
NODE_KEY = "pedslink_node"
SENDER_KEY = "pedslink_sender"


def _on_requested(event: Any) -> None:
    """Reject unknown callers before any negotiation."""
    assoc = event.assoc
    calling = assoc.requestor.primitive.calling_ae_title.strip()
    address = assoc.requestor.address
    close_old_connections()
    node = dicom_node_for(calling, address)
    if node is None:
        log.warning("C-STORE association refused: unknown AE title or address")
        # Take pynetdicom's own rejection path (it flushes the A-ASSOCIATE-RJ before
        # closing), for this association only.
        assoc.acse._negotiate_as_acceptor = functools.partial(_reject, assoc)
        return
    setattr(assoc, NODE_KEY, node)


def _reject(assoc: Any) -> None:
    assoc.acse.send_reject(0x01, 0x01, 0x03)  # permanent, calling AE title not recognised
    evt.trigger(assoc, evt.EVT_REJECTED, {})
    assoc.kill()


def _on_store(event: Any) -> Any:
    node = getattr(event.assoc, NODE_KEY, None)
    if node is None:  # pragma: no cover - rejected in _on_requested
        return STATUS_OUT_OF_RESOURCES
    close_old_connections()
    path = Path(event.dataset_path)
    # One sender per association: lookups cached, counts and render tasks batched.
    sender = getattr(event.assoc, SENDER_KEY, None)
    if sender is None:
        sender = Sender(hospital=node.hospital, source=Source.CSTORE)
        setattr(event.assoc, SENDER_KEY, sender)
    name = str(event.request.AffectedSOPInstanceUID or "dataset")
    try:
        # The error comment goes to the sending PACS (an ASCII LO): English.
        with path.open("rb") as fp, translation.override("en"):
            result = instance_ingest(
                fp=fp, name=name, size=path.stat().st_size, sender=sender, flush=False
            )
        if sender.backlog >= FLUSH_EVERY:
            ingest_flush(sender=sender)
    finally:
        path.unlink(missing_ok=True)
    if result.status in (Outcome.ACCEPTED, Outcome.ALREADY_STORED):
        return STATUS_SUCCESS
    status = _status(result.code, result.status)
    return _failure(status, result.reason)


def _status(code: str, outcome: str) -> int:
    if outcome == Outcome.CONFLICT:
        return STATUS_DUPLICATE
    if code in ("too_large", "pixels_too_large"):
        return STATUS_OUT_OF_RESOURCES
    return STATUS_CANNOT_UNDERSTAND


def _failure(status: int, reason: str) -> Any:
    from pydicom.dataset import Dataset

    ds = Dataset()
    ds.Status = status
    # Error Comment is LO: 64 characters, ASCII-safe for every SCU.
    ds.ErrorComment = reason.encode("ascii", "replace").decode()[:64]
    return ds


def _on_echo(event: Any) -> int:
    return STATUS_SUCCESS


def _on_closed(event: Any) -> None:
    """Association released, aborted or dropped: recount and queue what it stored."""
    sender = getattr(event.assoc, SENDER_KEY, None)
    if sender is not None:
        close_old_connections()
        ingest_flush(sender=sender)
    if event.event is evt.EVT_CONN_CLOSE:
        # Each association runs in its own thread, with its own database connection.
        connections.close_all()


def build_ae(ae_title: str) -> AE:
    ae = AE(ae_title=ae_title)
    ae.maximum_pdu_size = 0  # no limit: fewer, larger PDUs
    ae.network_timeout = 60
    ae.acse_timeout = 30
    ae.dimse_timeout = 120
    ae.maximum_associations = 32
    for context in AllStoragePresentationContexts:
        ae.add_supported_context(context.abstract_syntax, AllTransferSyntaxes)
    ae.add_supported_context(Verification)
    return ae


HANDLERS = [
    (evt.EVT_REQUESTED, _on_requested),
    (evt.EVT_C_STORE, _on_store),
    (evt.EVT_C_ECHO, _on_echo),
    (evt.EVT_RELEASED, _on_closed),
    (evt.EVT_ABORTED, _on_closed),
    (evt.EVT_CONN_CLOSE, _on_closed),
]


def start_listener(
    *, host: str | None = None, port: int | None = None, block: bool = False
) -> ThreadedAssociationServer | None:
    """Start the listener; non-blocking returns the server (tests and embedding)."""
    ae = build_ae(settings.DICOM_AE_TITLE)
    address = (host or settings.DICOM_BIND_ADDRESS, settings.DICOM_PORT if port is None else port)
    return ae.start_server(address, block=block, evt_handlers=HANDLERS)
