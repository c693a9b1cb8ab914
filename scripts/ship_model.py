"""Ship an exported model: copy it into models/ and record its answer on a fixed real radiograph.

    python scripts/ship_model.py NAME --reference kermany_pneumonia/train/NORMAL/x.jpeg [--from runs/models]
                                 [--population "children aged 1-5, one hospital" --ages 1 5] [--as SHIPPED_NAME]
                                 [--meaning "what the output means"] [--limit "not validated for ..."]

The exported card and files (from `cxrviewer train` with `export_to`, or `cxrviewer export`) are
verified, copied beside the project's other models, and the probabilities the shipped files give for
`--reference` (a file under ../shared/data, read and preprocessed exactly as the viewer does) are
written into the card's `reference`; for an image model (bone suppression, segmentation) its output's
summary figures are (`analysis.batch.reference_figures`). The model's cost (parameters, multiply-adds,
ONNX Runtime CPU latency; `training.complexity`) is measured here, once, if the card has none: export
no longer times every model it writes, test fixtures included.
tests/models/test_shipped_models.py recomputes the reference, so a
changed file, a changed preprocessing step or a changed runtime cannot slip by unnoticed.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import shutil
import sys
from pathlib import Path

from cxrviewer import paths
from cxrviewer.analysis.batch import reference_figures
from cxrviewer.analysis.findings import classify_pixels
from cxrviewer.core.cards import (
    Complexity,
    ModelCard,
    Population,
    Reference,
    card_path,
    load_card,
    write_card,
)
from cxrviewer.core.io import read_image
from cxrviewer.runtime.registry import load_model
from cxrviewer.runtime.torch_backend import build_network

log = logging.getLogger("ship_model")


def ship(name: str, source: Path, reference: str, target: Path, population: Population | None = None,
         shipped_name: str | None = None, meaning: str = "", limits: tuple[str, ...] = (),
         notes: tuple[str, ...] = ()) -> None:
    card = load_card(card_path(source, name))  # refuses a half-written or altered export
    if shipped_name and shipped_name != name:
        card = renamed(card, shipped_name)
    for entry, original in zip(card.files, load_card(card_path(source, name)).files, strict=True):
        shutil.copy2(source / original.path, target / entry.path)
    name = card.name
    write_card(card, card_path(target, name))
    loaded = load_model(name, target)
    pixels = read_image(paths.shared_data_dir() / reference).pixels
    if card.is_classifier:
        probabilities = classify_pixels(loaded, pixels).probabilities
        answer = Reference(reference, probabilities)
        said = zip(card.labels, probabilities, strict=True)
    else:
        answer = Reference(reference, figures=reference_figures(loaded, pixels))
        said = answer.figures.items()
    shipped = dataclasses.replace(load_card(card_path(target, name)), reference=answer)
    if shipped.complexity is None:
        shipped = dataclasses.replace(shipped, complexity=measure_cost(shipped, target))
    if population is not None:
        shipped = dataclasses.replace(shipped, population=population)
    if meaning:
        shipped = dataclasses.replace(shipped, probability_meaning=meaning)
    if limits:
        shipped = dataclasses.replace(shipped, limits=tuple(dict.fromkeys((*shipped.limits, *limits))))
    if notes:
        shipped = dataclasses.replace(shipped, notes=tuple(dict.fromkeys((*shipped.notes, *notes))))
    write_card(shipped, card_path(target, name))
    log.info("%s shipped to %s; on %s: %s", name, target, reference, ", ".join(f"{k} {v:.4f}" for k, v in said))


def renamed(card: ModelCard, new_name: str) -> ModelCard:
    """The card under the name it ships as (a run named after its candidate architecture, e.g.
    bone-suppression-jsrt-dwres_bs, ships as bone-suppression-jsrt): files renamed alike, same bytes,
    same checksums; the provenance keeps the run's command."""
    def moved(path: str) -> str:
        return new_name + path[len(card.name):] if path.startswith(card.name + ".") else path

    files = tuple(dataclasses.replace(f, path=moved(f.path)) for f in card.files)
    head = dataclasses.replace(card.head, file=moved(card.head.file)) if card.head else None
    saliency = moved(card.saliency_file) if card.saliency_file else None
    return dataclasses.replace(card, name=new_name, files=files, head=head, saliency_file=saliency)


def measure_cost(card: ModelCard, folder: Path) -> Complexity:
    """Parameters and multiply-adds of the card's network, and its ONNX CPU latency on a zero input of
    the working size (the machine's load average goes into the note: a busy machine inflates it)."""
    import numpy as np

    from cxrviewer.training.complexity import describe_cost

    net = build_network(card, folder / card.file("weights").path)
    example = np.zeros((1, card.input.channels, card.input.height, card.input.width), np.float32)
    cost = describe_cost(net, folder / card.file("onnx").path, example)
    cost["cpu_note"] += f" (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    return Complexity(**cost)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name")
    parser.add_argument("--reference", required=True, help="an image file relative to ../shared/data")
    parser.add_argument("--from", dest="source", type=Path, default=paths.install_root() / "runs" / "models")
    parser.add_argument("--to", dest="target", type=Path, default=paths.models_dir())
    parser.add_argument("--as", dest="shipped_name", help="the name to ship under (default: the exported name)")
    parser.add_argument("--meaning", default="", help="what the model's output means, for the reader (when the run did not say)")
    parser.add_argument("--limit", action="append", default=[], help="one more thing it was not validated for (repeatable)")
    parser.add_argument("--note", action="append", default=[], help="one more note for the card (repeatable)")
    parser.add_argument("--population", default="", help="who the training images came from, in a reader's words")
    parser.add_argument("--ages", type=float, nargs=2, metavar=("LOW", "HIGH"), help="their age range in years")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    population = Population(args.population, tuple(args.ages) if args.ages else None) if args.population or args.ages else None
    ship(args.name, args.source, args.reference, args.target, population, args.shipped_name, args.meaning,
         tuple(args.limit), tuple(args.note))
    return 0


if __name__ == "__main__":
    sys.exit(main())
