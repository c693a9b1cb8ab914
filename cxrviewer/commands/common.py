"""Options every sub-command that reads installed models spells the same way."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_models_dir(parser: argparse.ArgumentParser) -> None:
    """`--models-dir DIR`: the one spelling for where installed models are (`models`, `analyze`,
    `report`, `evaluate`)."""
    parser.add_argument("--models-dir", type=Path, default=None,
                        help="where installed models are (default: the installed models; CXRVIEWER_MODELS)")
