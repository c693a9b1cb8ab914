"""`cxrviewer view PATH...`: the viewer on files or folders (also what plain `cxrviewer` runs)."""

from __future__ import annotations

import argparse


def _numbers(count: int, name: str):
    def parse(text: str) -> tuple[float, ...]:
        try:
            values = tuple(float(part) for part in text.split(","))
        except ValueError:
            values = ()
        if len(values) != count:
            raise argparse.ArgumentTypeError(f"{name} needs {count} comma-separated numbers, got {text!r}")
        return values

    return parse


def _size(text: str) -> tuple[int, int]:
    width, _, height = text.lower().partition("x")
    if not (width.isdigit() and height.isdigit()) or int(width) < 200 or int(height) < 200:
        raise argparse.ArgumentTypeError(f"--size needs WIDTHxHEIGHT of at least 200x200, got {text!r}")
    return int(width), int(height)


def register(sub: argparse._SubParsersAction) -> None:
    view = sub.add_parser("view", help="open the viewer on files or folders (the default)")
    view.add_argument("paths", nargs="*", help="DICOM or image files, folders, DICOMDIR files")
    view.add_argument("--screenshot", metavar="OUT.png", help="save the window to this PNG once every study has loaded")
    view.add_argument(
        "--quit-after-load",
        action="store_true",
        help="exit once every study has loaded (with --screenshot; renders offscreen without a display)",
    )
    view.add_argument("--max-megapixels", type=float, default=None, help="refuse larger images (default 100)")
    view.add_argument(
        "--window", metavar="C,W", type=_numbers(2, "--window"), help="window centre and width for the first study"
    )
    view.add_argument(
        "--ruler",
        metavar="X0,Y0,X1,Y1",
        type=_numbers(4, "--ruler"),
        help="draw a ruler between two points (image pixels) on the first study",
    )
    view.add_argument("--size", metavar="WxH", type=_size, default=(1400, 900), help="window size (default 1400x900)")
    view.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from cxrviewer.gui.app import run_viewer

    return run_viewer(
        args.paths,
        screenshot=args.screenshot,
        quit_after_load=args.quit_after_load,
        max_megapixels=args.max_megapixels,
        window=args.window,
        ruler=args.ruler,
        size=args.size,
    )
