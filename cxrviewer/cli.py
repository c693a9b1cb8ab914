"""The `cxrviewer` command. With no sub-command it opens the viewer on the embedded demo study.

Each sub-command lives in `cxrviewer.commands.<name>` and imports what it needs when it runs, so
`cxrviewer --version` and batch commands start without Qt, and only training and export import torch.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from cxrviewer import __version__

# Sub-command modules, in the order `--help` lists them; the first is the default.
SUBCOMMANDS = ("view", "models", "analyze", "report", "site", "calibrate", "export", "train", "evaluate", "listen",
               "pacs")
GLOBAL_FLAGS = ("-h", "--help", "--version", "-v", "--verbose")
# Packages of the `ml` extra that the packaged viewer leaves out (cxrviewer.spec): train, export and
# evaluate need them.
FULL_INSTALL_ONLY = ("torch", "torchvision", "onnx", "onnxscript", "yaml", "sklearn", "scipy", "matplotlib",
                     "skimage", "pytorch_msssim", "cv2")
log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cxrviewer", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"cxrviewer {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(f"cxrviewer.commands.{name}").register(sub)
    return parser


def unknown_command(word: str) -> str:
    """Why `word`, in a sub-command's place, is neither a sub-command nor a study to open ("" when it
    is one or the other): a mistyped command (`cxrviewer analyse x.dcm`) must not open the viewer on
    a file named after it. A word that is not an existing path and has no path separator or
    extension is taken for a command."""
    if word in SUBCOMMANDS or word.startswith("-") or Path(word).exists():
        return ""
    if os.sep in word or "/" in word or Path(word).suffix:
        return ""  # a missing file: the viewer says it cannot open it
    nearest = difflib.get_close_matches(word, SUBCOMMANDS, n=1, cutoff=0.6)
    hint = f"; did you mean `cxrviewer {nearest[0]}`?" if nearest else ""
    return f"unknown command {word!r} (commands: {', '.join(SUBCOMMANDS)}){hint}"


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    leading_flags = 0
    while leading_flags < len(argv) and argv[leading_flags] in ("-v", "--verbose"):
        leading_flags += 1
    rest = argv[leading_flags:]
    if rest and (problem := unknown_command(rest[0])):
        print(f"cxrviewer: {problem}", file=sys.stderr)
        return 2
    # `cxrviewer FILE...` means `cxrviewer view FILE...`, as a DICOM viewer is usually started.
    if not rest or (rest[0] not in SUBCOMMANDS and rest[0] not in GLOBAL_FLAGS):
        argv = [*argv[:leading_flags], SUBCOMMANDS[0], *rest]
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        return args.handler(args)
    except ModuleNotFoundError as error:
        if (error.name or "").partition(".")[0] not in FULL_INSTALL_ONLY:
            raise
        log.error("`cxrviewer %s` needs the full install (%s is not installed here): pip install "
                  "'cxrviewer[ml]', or `make venv` in a source checkout (docs/packaging.md)", args.command, error.name)
        return 2
