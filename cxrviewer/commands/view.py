"""`cxrviewer view PATH...`: the viewer on files or folders (also what plain `cxrviewer` runs)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    view = sub.add_parser("view", help="open the viewer on files or folders (the default)")
    view.add_argument("paths", nargs="*", help="DICOM or image files, folders, DICOMDIR files")
    view.add_argument("--screenshot", metavar="OUT.png", help="render the window offscreen to this PNG")
    view.add_argument(
        "--quit-after-load", action="store_true", help="exit once every study has loaded (with --screenshot)"
    )
    view.add_argument("--max-megapixels", type=float, default=None, help="refuse larger images (default 100)")
    view.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from cxrviewer.gui.app import run_viewer

    return run_viewer(
        args.paths,
        screenshot=args.screenshot,
        quit_after_load=args.quit_after_load,
        max_megapixels=args.max_megapixels,
    )
