"""`cxrviewer listen`: the storage service, headless. Studies sent by the X-ray units and the PACS
are stored under the storage folder (`<study>/<series>/<instance>.dcm`, atomically) and printed
once each is complete (nothing more arrived for --quiet seconds); with --triage each is analysed
at once by the installed models (the worklist's triage: `analysis.triage`), and with --send PEER
its results (SR, SEG, SC) go back through the outbox.

Our AE title, port, folder and allowed senders come from the network settings
(`cxrviewer pacs settings`), or from the options. Only allowed senders may associate; a study in a
transfer syntax the viewer cannot decode is stored and said so. Stop with Ctrl-C.
"""

from __future__ import annotations

import argparse
import logging
import threading
from pathlib import Path

from cxrviewer.commands.common import add_models_dir
from cxrviewer.core.errors import CxrError

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("listen", help="receive studies over DICOM (storage service), triage them as they arrive",
                       description=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--aet", default=None, help="our AE title (default: the network settings')")
    p.add_argument("--port", type=int, default=None, help="TCP port (default: the network settings')")
    p.add_argument("--folder", type=Path, default=None, help="storage folder (default: the network settings')")
    p.add_argument("--allow", action="append", default=[], metavar="AET@HOST",
                   help="a sender allowed besides the settings' (repeat)")
    p.add_argument("--quiet", type=float, default=2.0, metavar="SECONDS",
                   help="a study is complete when nothing more arrived for it this long (default 2)")
    p.add_argument("--triage", action="store_true", help="analyse each received study with the installed models")
    p.add_argument("--send", default=None, metavar="PEER", help="send each triaged study's results to this PACS peer")
    p.add_argument("--anonymise", action="store_true", help="results sent without patient identifiers")
    p.add_argument("--stop-after", type=int, default=None, metavar="N", help="stop after N studies (for scripts)")
    add_models_dir(p)
    p.set_defaults(handler=run)


def parse_sender(text: str):
    from cxrviewer.net.settings import AllowedSender

    ae_title, sep, host = text.partition("@")
    if not sep or not ae_title or not host:
        raise CxrError(f"--allow {text!r}: write AET@HOST, e.g. XRAY1@10.0.0.7")
    return AllowedSender(ae_title, host)


def triage_hook(models_dir: Path | None, send: str | None = None, anonymise: bool = False, settings=None):
    """The callable `listen` runs on each received study: every decodable instance through the
    worklist's triage (`analysis.triage.triage_study`), printed; with `send`, its results queued for
    that peer through the outbox. Thin on purpose: the analysis core is being reshaped (issue 18)."""
    from cxrviewer.analysis import pipeline
    from cxrviewer.analysis.triage import triage_study

    def analyse(study) -> list:
        roles = pipeline.model_roles(models_dir)
        outcomes = []
        for instance in study.instances:
            if instance.problem:
                print(f"  {instance.path.name}: not analysed: {instance.problem}", flush=True)
                continue
            try:
                found = triage_study(instance.path, roles, models_dir)
            except CxrError as error:
                print(f"  {instance.path.name}: not analysed: {error}", flush=True)
                continue
            outcomes.append((instance, found))
            for outcome in found:
                print(f"  {instance.path.name}: {describe_outcome(outcome)}", flush=True)
            if send is not None:
                from cxrviewer.commands.sending import send_results

                send_results(instance.path, send, settings, models_dir, anonymise)
        return outcomes

    return analyse


def describe_outcome(outcome) -> str:
    payload = outcome.payload
    if payload is None:
        return f"{outcome.model}: failed: {outcome.error}"
    if outcome.kind == "gate":
        return f"{outcome.model}: frontal chest {payload.score:.3f} ({'accepted' if payload.accepted else 'REFUSED'})"
    if outcome.kind == "finding":
        called = "+".join(payload.labels[i] for i in payload.positive)
        probs = ", ".join(f"{label} {p:.3f}" for label, p in zip(payload.labels, payload.probabilities, strict=True))
        return f"{outcome.model}: {probs} -> {called}"
    return f"{outcome.model}: score {payload.score:.3f} at {payload.threshold:.3f} -> {'yes' if payload.positive else 'no'}"


def run(args: argparse.Namespace) -> int:
    from cxrviewer.net import quiet_library_logs
    from cxrviewer.net.settings import load_network_settings
    from cxrviewer.net.storage import StorageServer

    quiet_library_logs(args.verbose)
    try:
        settings = load_network_settings()
        allowed = settings.allowed + tuple(parse_sender(text) for text in args.allow)
        if args.send is not None:
            settings.peer(args.send)
    except CxrError as error:
        log.error("%s", error)
        return 1
    if not allowed:
        log.warning("no sender is allowed: every association will be refused (add --allow AET@HOST)")
    analyse = triage_hook(args.models_dir, args.send, args.anonymise, settings) if args.triage else None
    done = threading.Event()
    count = [0]

    def on_study(study) -> None:
        print(f"received {study.describe()}", flush=True)
        if analyse is not None:
            analyse(study)
        count[0] += 1
        if args.stop_after is not None and count[0] >= args.stop_after:
            done.set()

    def on_refused(refusal) -> None:
        print(refusal.describe(), flush=True)

    folder = args.folder or settings.storage_folder()
    try:
        server = StorageServer(args.aet or settings.ae_title, args.port if args.port is not None else settings.port,
                               folder, allowed, on_study=on_study, on_refused=on_refused, quiet_seconds=args.quiet)
    except OSError as error:
        log.error("cannot listen on port %s: %s", args.port or settings.port, error.strerror or error)
        return 1
    print(f"listening as {args.aet or settings.ae_title} on port {server.port}, storing into {folder}", flush=True)
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0
