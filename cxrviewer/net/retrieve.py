"""Query and retrieve the way a peer is set up: one path for `cxrviewer pacs find/get` and the viewer's
PACS dialog. A study search by C-FIND or QIDO-RS; a study fetched into a folder by C-GET, C-MOVE (to
our storage service, started for the move) or WADO-RS, laid out as the storage service lays it out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cxrviewer.net.peers import PeerError
from cxrviewer.net.query import StudyMatch, StudyQuery
from cxrviewer.net.settings import AllowedSender, NetworkSettings, Peer

RETRIEVALS = {"get": "C-GET", "move": "C-MOVE", "wado": "WADO-RS"}


@dataclass(frozen=True)
class Route:
    """A peer and how it is reached: over DIMSE (C-FIND, then C-GET or C-MOVE as the peer is set up)
    or, when `web`, over DICOMweb (QIDO-RS, WADO-RS) at its DICOMweb URL."""

    peer: Peer
    web: bool = False

    @property
    def retrieval(self) -> str:
        """"get", "move" or "wado": a key of RETRIEVALS."""
        return "wado" if self.web else self.peer.retrieve

    def describe(self) -> str:
        if self.web:
            return f"{self.peer.name}: DICOMweb (QIDO-RS, WADO-RS) at {self.peer.dicomweb_url}"
        return (f"{self.peer.name}: DIMSE (C-FIND, {RETRIEVALS[self.retrieval]}), {self.peer.ae_title} at "
                f"{self.peer.host}:{self.peer.port}")


def routes(settings: NetworkSettings) -> list[Route]:
    """Each peer over DIMSE, followed by the same peer over DICOMweb when it has a DICOMweb URL."""
    return [route for peer in settings.peers
            for route in (Route(peer), *((Route(peer, web=True),) if peer.dicomweb_url else ()))]


def find(route: Route, query: StudyQuery, calling_ae: str) -> list[StudyMatch]:
    """The studies matching `query` at the route's peer; PeerError naming the peer when it fails."""
    if route.web:
        from cxrviewer.net.dicomweb import qido_studies

        return qido_studies(route.peer, query)
    from cxrviewer.net.query import find_studies

    return find_studies(route.peer, query, calling_ae)


def retrieve(peer: Peer, study_uid: str, retrieval: str, settings: NetworkSettings, folder: Path,
             on_file: Callable[[Path], None] | None = None) -> list[Path]:
    """Fetch the study into `folder` by `retrieval` ("get", "move" or "wado"); the files written.
    on_file: called with each file once it is written, from the thread that received it.
    C-MOVE starts our storage service (settings' AE title and port) for the duration of the move,
    accepting the peer besides the allowed senders. PeerError naming the peer when it fails."""
    if retrieval not in RETRIEVALS:
        raise ValueError(f"retrieval {retrieval!r} is not one of {', '.join(RETRIEVALS)}")
    report = on_file or (lambda path: None)
    if retrieval == "wado":
        from cxrviewer.net.dicomweb import wado_study

        return wado_study(peer, study_uid, folder, on_file=report)
    if retrieval == "get":
        from cxrviewer.net.query import get_study

        return [i.path for i in get_study(peer, study_uid, settings.ae_title, folder,
                                          on_instance=lambda instance: report(instance.path))]
    from cxrviewer.net.query import move_study
    from cxrviewer.net.storage import StorageServer

    received = []

    def stored(instance) -> None:
        received.append(instance.path)
        report(instance.path)

    try:
        server = StorageServer(settings.ae_title, settings.port, folder,
                               (*settings.allowed, AllowedSender(peer.ae_title, peer.host)),
                               on_instance=stored, quiet_seconds=0.1)
    except OSError as error:
        raise PeerError(peer, f"C-MOVE needs our storage service {settings.ae_title} on port {settings.port}, "
                              f"which could not listen ({error}); is another storage service using it?") from None
    with server:
        move_study(peer, study_uid, settings.ae_title, settings.ae_title)
    return received
