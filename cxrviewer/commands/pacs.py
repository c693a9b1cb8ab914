"""`cxrviewer pacs`: query and retrieve from a PACS, the outbox of results to send, the peers.

  pacs find --peer NAME [--patient-id ID] [--patient-name NAME] [--dates FROM-TO] [--modality CR ...]
            [--accession N] [--web]          C-FIND at study level (QIDO-RS with --web)
  pacs get STUDY_UID --peer NAME [--via get|move|wado] [--out DIR]
                                              C-GET, C-MOVE to a storage service started for the
                                              move, or WADO-RS (default: the peer's setting, C-GET
                                              unless added with --retrieve move); into DIR (default:
                                              the storage folder), laid out <study>/<series>/<instance>.dcm
  pacs outbox [--retry]                       what waits to be sent, with its errors; --retry sends it
  pacs add-peer NAME AET HOST PORT [--dicomweb URL] [--retrieve get|move]
                                              add or replace a peer in the network settings
  pacs settings [--aet AET] [--port N] [--storage DIR] [--allow AET@HOST ...] [--receive-in-viewer on|off]
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from pathlib import Path

from cxrviewer.core.errors import CxrError

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pacs", help="query/retrieve from a PACS (DIMSE or DICOMweb); the outbox of results",
                       description=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    find = actions.add_parser("find", help="studies matching a query (C-FIND, or QIDO-RS with --web)")
    find.add_argument("--peer", required=True)
    find.add_argument("--patient-id", default="")
    find.add_argument("--patient-name", default="")
    find.add_argument("--dates", default="", help="YYYYMMDD, YYYYMMDD-, -YYYYMMDD or YYYYMMDD-YYYYMMDD")
    find.add_argument("--modality", action="append", default=None, help="CR, DX (default: both; repeat)")
    find.add_argument("--accession", default="")
    find.add_argument("--web", action="store_true", help="QIDO-RS at the peer's DICOMweb URL")
    get = actions.add_parser("get", help="retrieve a study (C-GET, C-MOVE or WADO-RS)")
    get.add_argument("study_uid")
    get.add_argument("--peer", required=True)
    get.add_argument("--via", choices=("get", "move", "wado"), default=None,
                     help="default: the peer's setting (get unless it was added with --retrieve move)")
    get.add_argument("--out", type=Path, default=None)
    outbox = actions.add_parser("outbox", help="objects waiting to be sent; --retry sends them")
    outbox.add_argument("--retry", action="store_true")
    outbox.add_argument("--folder", type=Path, default=None, help="the outbox (default: beside the site settings)")
    add = actions.add_parser("add-peer", help="add or replace a PACS peer in the network settings")
    add.add_argument("name")
    add.add_argument("ae_title")
    add.add_argument("host")
    add.add_argument("port", type=int)
    add.add_argument("--dicomweb", default="", metavar="URL")
    add.add_argument("--retrieve", choices=("get", "move"), default="get",
                     help="how `pacs get` and the viewer fetch a study over DIMSE (default: get)")
    settings = actions.add_parser("settings", help="show or change our AE title, port, storage folder, senders")
    settings.add_argument("--aet", default=None)
    settings.add_argument("--port", type=int, default=None)
    settings.add_argument("--storage", type=Path, default=None)
    settings.add_argument("--allow", action="append", default=None, metavar="AET@HOST",
                          help="the allowed senders (replaces the list; repeat)")
    settings.add_argument("--receive-in-viewer", choices=("on", "off"), default=None,
                          help="the viewer runs the storage service while open (File -> Receive from the network)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from cxrviewer.net import quiet_library_logs
    from cxrviewer.net.settings import load_network_settings

    quiet_library_logs(args.verbose)
    try:
        settings = load_network_settings()
        return {"find": _find, "get": _get, "outbox": _outbox, "add-peer": _add_peer,
                "settings": _settings}[args.action](args, settings)
    except CxrError as error:
        log.error("%s", error)
        return 1


def _find(args, settings) -> int:
    from cxrviewer.net.query import CHEST_MODALITIES, StudyQuery
    from cxrviewer.net.retrieve import Route, find

    route = Route(settings.peer(args.peer), web=args.web)
    query = StudyQuery(args.patient_id, args.patient_name, args.dates, tuple(args.modality or CHEST_MODALITIES),
                       args.accession)
    matches = find(route, query, settings.ae_title)
    for match in matches:
        print(match.describe())
    log.info("%d study(ies) at %s", len(matches), route.describe())
    return 0


def _get(args, settings) -> int:
    from cxrviewer.net.retrieve import retrieve

    peer = settings.peer(args.peer)
    paths = retrieve(peer, args.study_uid, args.via or peer.retrieve, settings, args.out or settings.storage_folder())
    for path in paths:
        print(path)
    if not paths:
        log.error("study %s: nothing received from %s", args.study_uid, peer.describe())
        return 1
    return 0


def _outbox(args, settings) -> int:
    from cxrviewer.net.outbox import outbox_folder, pending, retry

    folder = args.folder or outbox_folder()
    if args.retry:
        report = retry(folder, settings)
        print(report.describe())
        return 1 if report.kept else 0
    entries = pending(folder)
    for entry in entries:
        print(entry.describe())
    print(f"outbox {folder}: {len(entries)} object(s) waiting")
    return 0


def _add_peer(args, settings) -> int:
    from cxrviewer.net.settings import Peer, save_network_settings, settings_file

    peer = Peer(args.name, args.ae_title, args.host, args.port, args.dicomweb, args.retrieve)
    peers = tuple(p for p in settings.peers if p.name != peer.name) + (peer,)
    save_network_settings(dataclasses.replace(settings, peers=peers))
    print(f"peer {peer.describe()} saved in {settings_file()}")
    return 0


def _settings(args, settings) -> int:
    from cxrviewer.commands.listen import parse_sender
    from cxrviewer.net.settings import save_network_settings, settings_file

    changes = {key: value for key, value in (("ae_title", args.aet), ("port", args.port),
                                             ("storage", str(args.storage) if args.storage else None)) if value is not None}
    if args.allow is not None:
        changes["allowed"] = tuple(parse_sender(text) for text in args.allow)
    if args.receive_in_viewer is not None:
        changes["receive_in_viewer"] = args.receive_in_viewer == "on"
    if changes:
        settings = dataclasses.replace(settings, **changes)
        save_network_settings(settings)
    print(f"network settings ({settings_file()}):")
    print(f"  we are {settings.ae_title} on port {settings.port}, storing into {settings.storage_folder()}")
    print(f"  the viewer receives while open: {'yes' if settings.receive_in_viewer else 'no'}")
    for sender in settings.allowed:
        print(f"  allowed sender {sender.ae_title} at {sender.host}")
    for peer in settings.peers:
        print(f"  peer {peer.describe()}, retrieves by C-{peer.retrieve.upper()}"
              f"{', DICOMweb ' + peer.dicomweb_url if peer.dicomweb_url else ''}")
    return 0
