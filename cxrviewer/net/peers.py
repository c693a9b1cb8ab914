"""Associations with a peer, and the one error for everything a peer can do wrong: a PeerError's
message starts with the peer (name, AE title, address) and says what happened."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from pynetdicom import AE, evt
from pynetdicom.association import Association

from cxrviewer.core.errors import CxrError
from cxrviewer.net.settings import Peer

TIMEOUT_SECONDS = 10


class PeerError(CxrError):
    def __init__(self, peer: Peer, problem: str):
        self.peer = peer
        self.problem = problem
        super().__init__(f"PACS {peer.describe()}: {problem}")


def _why_not(assoc: Association, connected: bool) -> str:
    if not connected:
        return "no association: could not connect (is it running, and is the address right?)"
    if assoc.is_rejected:
        rsp = assoc.acceptor.primitive
        if rsp is not None and rsp.result is not None:
            return f"association rejected ({rsp.result_str}, {rsp.source_str}: {rsp.reason_str})"
        return "association rejected"
    if assoc.is_aborted:
        return f"association aborted before it was accepted (by the PACS, or no answer within {TIMEOUT_SECONDS} s)"
    return "no association (is it running, and is the address right?)"


@contextmanager
def associated(peer: Peer, calling_ae: str, contexts: Sequence = (), roles: Sequence = (),
               evt_handlers: Sequence = ()) -> Iterator[Association]:
    """An established association with `peer` for the duration of the block, released after;
    PeerError naming the peer when it refuses or cannot be reached."""
    ae = AE(ae_title=calling_ae)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = TIMEOUT_SECONDS
    ae.connection_timeout = TIMEOUT_SECONDS
    ae.requested_contexts = list(contexts)
    connected: list[bool] = []  # the TCP connection opened: what went wrong came after it
    handlers = [*evt_handlers, (evt.EVT_CONN_OPEN, lambda event: connected.append(True))]
    assoc = ae.associate(peer.host, int(peer.port), ae_title=peer.ae_title, ext_neg=list(roles),
                         evt_handlers=handlers)
    if not assoc.is_established:
        raise PeerError(peer, _why_not(assoc, bool(connected)))
    try:
        yield assoc
    finally:
        if assoc.is_established:
            assoc.release()


def check_status(peer: Peer, status, what: str) -> int:
    """The status value of a DIMSE response; PeerError when there was none (association lost)."""
    if status is None or "Status" not in status:
        raise PeerError(peer, f"{what}: no response (the association was lost or timed out)")
    return int(status.Status)
