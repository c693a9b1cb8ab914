"""Ship an exported model: copy it into models/ and record its answer on a fixed real radiograph.

    python scripts/ship_model.py NAME --reference kermany_pneumonia/train/NORMAL/x.jpeg [--from runs/models]
                                 [--population "children aged 1-5, one hospital" --ages 1 5]

The exported card and files (from `cxrviewer train` with `export_to`, or `cxrviewer export`) are
verified, copied beside the project's other models, and the probabilities the shipped files give for
`--reference` (a file under ../shared/data, read and preprocessed exactly as the viewer does) are
written into the card's `reference`. tests/models/test_shipped_models.py recomputes them, so a
changed file, a changed preprocessing step or a changed runtime cannot slip by unnoticed.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import shutil
import sys
from pathlib import Path

from cxrviewer import paths
from cxrviewer.analysis.findings import classify_pixels
from cxrviewer.core.cards import Population, Reference, card_path, load_card, write_card
from cxrviewer.core.io import read_image
from cxrviewer.runtime.registry import load_model

log = logging.getLogger("ship_model")


def ship(name: str, source: Path, reference: str, target: Path, population: Population | None = None) -> None:
    card = load_card(card_path(source, name))  # refuses a half-written or altered export
    for entry in card.files:
        shutil.copy2(source / entry.path, target / entry.path)
    write_card(card, card_path(target, name))
    loaded = load_model(name, target)
    finding = classify_pixels(loaded, read_image(paths.shared_data_dir() / reference).pixels)
    shipped = dataclasses.replace(load_card(card_path(target, name)), reference=Reference(reference, finding.probabilities))
    if population is not None:
        shipped = dataclasses.replace(shipped, population=population)
    write_card(shipped, card_path(target, name))
    log.info("%s shipped to %s; on %s: %s", name, target, reference,
             ", ".join(f"{label} {p:.4f}" for label, p in zip(card.labels, finding.probabilities, strict=True)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name")
    parser.add_argument("--reference", required=True, help="an image file relative to ../shared/data")
    parser.add_argument("--from", dest="source", type=Path, default=paths.install_root() / "runs" / "models")
    parser.add_argument("--to", dest="target", type=Path, default=paths.models_dir())
    parser.add_argument("--population", default="", help="who the training images came from, in a reader's words")
    parser.add_argument("--ages", type=float, nargs=2, metavar=("LOW", "HIGH"), help="their age range in years")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    population = Population(args.population, tuple(args.ages) if args.ages else None) if args.population or args.ages else None
    ship(args.name, args.source, args.reference, args.target, population)
    return 0


if __name__ == "__main__":
    sys.exit(main())
