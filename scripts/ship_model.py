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

Last, the model is sealed (`seal`): its answer on the demo study that ships with the program is
recorded as the card's `known_answer` (the viewer recomputes it at first load, `analysis.known_answer`),
and the card and every file are signed with the release key (`core.signing`), read from
../shared/release/model-signing-key.pem or `--key`. The key never enters the project.
`--seal-only NAME` re-seals a model already in models/ (a new release key, a new known-answer study)
without touching anything else in its card.
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
from cxrviewer.analysis.known_answer import recompute
from cxrviewer.core.cards import (
    Complexity,
    KnownAnswer,
    ModelCard,
    Population,
    Reference,
    card_path,
    load_card,
    write_card,
)
from cxrviewer.core.io import read_image
from cxrviewer.core.signing import load_private_key, sign_model, signature_path
from cxrviewer.runtime.registry import load_model
from cxrviewer.runtime.torch_backend import build_network

log = logging.getLogger("ship_model")


KNOWN_ANSWER_INPUT = "demo/demo_chest_pa.dcm"  # relative to resources/: ships with every install
KNOWN_ANSWER_TOLERANCE = 1e-3
DEFAULT_KEY = paths.install_root().parent / "shared" / "release" / "model-signing-key.pem"


def ship(name: str, source: Path, reference: str, target: Path, population: Population | None = None,
         shipped_name: str | None = None, meaning: str = "", limits: tuple[str, ...] = (),
         notes: tuple[str, ...] = (), key: Path = DEFAULT_KEY) -> None:
    private_key = load_private_key(key)  # before any copying: no key, nothing shipped
    card = load_card(card_path(source, name))  # refuses a half-written or altered export
    if shipped_name and shipped_name != name:
        card = renamed(card, shipped_name)
    for entry, original in zip(card.files, load_card(card_path(source, name)).files, strict=True):
        shutil.copy2(source / original.path, target / entry.path)
    name = card.name
    signature_path(target, name).unlink(missing_ok=True)  # a previous release's seal covers other files
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
    seal(name, target, private_key)
    log.info("%s shipped to %s; on %s: %s", name, target, reference, ", ".join(f"{k} {v:.4f}" for k, v in said))


def seal(name: str, folder: Path, private_key) -> None:
    """Record the model's known answer on the demo study in its card, then sign card and files."""
    signature_path(folder, name).unlink(missing_ok=True)  # the old seal no longer covers what changes
    loaded = load_model(name, folder)
    probabilities, figures = recompute(loaded, KNOWN_ANSWER_INPUT)
    answer = KnownAnswer(KNOWN_ANSWER_INPUT, probabilities, figures, KNOWN_ANSWER_TOLERANCE)
    card = dataclasses.replace(load_card(card_path(folder, name)), known_answer=answer)
    write_card(card, card_path(folder, name))
    sign_model(card, folder, private_key)
    log.info("%s sealed: known answer %s, signed", name,
             ", ".join(f"{v:.4f}" for v in probabilities) or f"{len(figures)} figures")


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
    parser.add_argument("name", nargs="+", help="the exported model (with --seal-only: shipped models)")
    parser.add_argument("--reference", help="an image file relative to ../shared/data (required unless --seal-only)")
    parser.add_argument("--seal-only", action="store_true",
                        help="re-record the known answer and re-sign models already in --to")
    parser.add_argument("--key", type=Path, default=DEFAULT_KEY, help="the release's Ed25519 private key (PEM)")
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
    if args.seal_only:
        private_key = load_private_key(args.key)
        for name in args.name:
            seal(name, args.target, private_key)
        return 0
    if args.reference is None or len(args.name) != 1:
        parser.error("shipping takes one exported model and --reference")
    population = Population(args.population, tuple(args.ages) if args.ages else None) if args.population or args.ages else None
    ship(args.name[0], args.source, args.reference, args.target, population, args.shipped_name, args.meaning,
         tuple(args.limit), tuple(args.note), args.key)
    return 0


if __name__ == "__main__":
    sys.exit(main())
