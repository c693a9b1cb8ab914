"""The `cxrviewer` command. With no sub-command it opens the viewer on the embedded demo study.

Each sub-command imports what it needs when it runs, so `cxrviewer --version` and batch commands
start without Qt, and nothing but training and export imports torch.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from cxrviewer import __version__

SUBCOMMANDS = ("view",)


def _add_view(sub: argparse._SubParsersAction) -> None:
    view = sub.add_parser("view", help="open the viewer on files or folders (the default)")
    view.add_argument("paths", nargs="*", help="DICOM or image files, folders, DICOMDIR files")
    view.add_argument("--screenshot", metavar="OUT.png", help="render the window offscreen to this PNG")
    view.add_argument(
        "--quit-after-load", action="store_true", help="exit once every study has loaded (with --screenshot)"
    )
    view.add_argument("--max-megapixels", type=float, default=None, help="refuse larger images (default 100)")
    view.set_defaults(handler=_run_view)


def _run_view(args: argparse.Namespace) -> int:
    from cxrviewer.gui.app import run_viewer

    return run_viewer(
        args.paths,
        screenshot=args.screenshot,
        quit_after_load=args.quit_after_load,
        max_megapixels=args.max_megapixels,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cxrviewer", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"cxrviewer {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_view(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # `cxrviewer FILE...` means `cxrviewer view FILE...`, as a DICOM viewer is usually started.
    if not argv or (argv[0] not in SUBCOMMANDS and argv[0] not in ("-h", "--help", "--version", "-v", "--verbose")):
        argv = ["view", *argv]
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    return args.handler(args)
