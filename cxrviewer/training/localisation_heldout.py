"""Which boxed films a shipped classifier never trained or was selected on: its own split, reproduced.

A card whose provenance names a boxed data set (RSNA opacity boxes, TBX11K TB boxes) had some of its
films in training or validation. Its split is rebuilt from the config its provenance command names,
with the same catalog, seed, fractions and code (`training.run.make_split`), and accepted only if it
is the card's split: the same method text, and the test n the card states (`test (n=68)`, or per
source `test tbx11k (300 films`). The films of its train and validation parts are then left out.
A card that names neither data set never saw them: every boxed film is held out.

The `tb_screen` source reads films prepared outside the checkout (`training.tb_screen prepare`); its
split needs only the order, sources, cases and labels of those films, which `tb_screen.originals`
lists from the shared data in the order `prepare` wrote them, with the original films' paths.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from cxrviewer import paths
from cxrviewer.core.cards import ModelCard
from cxrviewer.core.errors import CxrError
from cxrviewer.training.config import TrainConfig, load_config
from cxrviewer.training.sources import Catalog, Sample, load_catalog, source_of, subsample

# Boxed data set folder (under the shared data) → the words a card's provenance uses for it.
BOXED = {"rsna_pneumonia": ("rsna",), "tbx11k_tb": ("tbx11k",)}
# The source name a combined/tb_screen catalog gives each boxed data set's films.
SOURCE_NAMES = {"rsna_pneumonia": "rsna", "tbx11k_tb": "tbx11k"}


@dataclass(frozen=True)
class Reproduced:
    """A card's split, rebuilt: the films (resolved paths) of its train + validation parts, its test
    n, the test films per (source, class index), and the split's method text."""

    used: frozenset[Path]
    test_n: int
    test_by_source: dict[tuple[str, int], int]
    method: str


def trained_on(card: ModelCard) -> tuple[str, ...]:
    """The boxed data sets the card's provenance names (lower-case word match)."""
    text = " ".join(card.provenance.data).lower()
    return tuple(name for name, words in BOXED.items() if any(w in text for w in words))


def config_path(card: ModelCard, repo: Path) -> Path | None:
    """The --config of the card's provenance command, relative to the checkout (None without one)."""
    words = shlex.split(card.provenance.command or "")
    for i, word in enumerate(words[:-1]):
        if word == "--config":
            return (repo / words[i + 1]).resolve()
    return None


def _tb_screen_catalog(shared: Path) -> Catalog:
    from cxrviewer.training.tb_screen import CLASSES, originals

    samples = tuple(Sample(path, patient=f"{source}/{case}", labels=(CLASSES.index(label),))
                    for source, case, label, path, _inverted, _boxes in originals(shared))
    return Catalog(samples, CLASSES, "tb_screen films, listed from the shared data")


def catalog_of(config: TrainConfig) -> Catalog:
    """The catalog training built (subsampled as training did), the tb_screen one from the originals."""
    if config.data.source == "tb_screen":
        return _tb_screen_catalog(paths.shared_data_dir())
    return subsample(load_catalog(config.data), config.data, seed=config.seed)


def reproduce(config: TrainConfig) -> Reproduced:
    from cxrviewer.training.run import make_split

    catalog = catalog_of(config)
    split = make_split(config, catalog)
    used = frozenset(catalog.samples[i].path.resolve() for i in (*split.train, *split.val))
    by_source: dict[tuple[str, int], int] = {}
    for i in split.test:
        sample = catalog.samples[i]
        key = (source_of(sample) if "/" in sample.patient else "", sample.labels[0] if sample.labels else -1)
        by_source[key] = by_source.get(key, 0) + 1
    return Reproduced(used, len(split.test), by_source, split.method)


def stated_test_n(card: ModelCard) -> tuple[int | None, dict[tuple[str, int], int]]:
    """The test n a card states: overall (`test (n=68)`), and per source and class from its
    `sensitivity[source]` (class 1) and `specificity[source]` (class 0) metrics (`test tbx11k (300 films`)."""
    overall, by_source = None, {}
    for metric in card.metrics:
        if (found := re.match(r"test \(n=(\d+)\)", metric.split)) is not None:
            overall = int(found.group(1))
        named = re.fullmatch(r"(sensitivity|specificity)\[(\w+)\]", metric.name)
        counted = re.match(r"test (\w+) \((\d+) films", metric.split)
        if named and counted and named.group(2) == counted.group(1):
            by_source[(counted.group(1), 1 if named.group(1) == "sensitivity" else 0)] = int(counted.group(2))
    return overall, by_source


def check_against_card(card: ModelCard, reproduced: Reproduced) -> str:
    """"" when the reproduced split is the card's (method text and every stated test n), else why not."""
    if reproduced.method != card.provenance.split:
        return f"the split rebuilt is {reproduced.method!r}, the card's {card.provenance.split!r}"
    overall, by_source = stated_test_n(card)
    if overall is not None and overall != reproduced.test_n:
        return f"test n {reproduced.test_n} rebuilt, {overall} on the card"
    for (source, label), n in by_source.items():
        if reproduced.test_by_source.get((source, label), 0) != n:
            return (f"test {source} class {label}: {reproduced.test_by_source.get((source, label), 0)} films "
                    f"rebuilt, {n} on the card")
    if overall is None and not by_source:
        return "the card states no test n to check the rebuilt split against"
    return ""


@dataclass(frozen=True)
class HeldOut:
    """The films of `dataset` a model may be measured on: `excluded` are its training and selection
    films (empty when it never saw the set); `ok` False (with `why`) when its split cannot be rebuilt."""

    dataset: str
    excluded: frozenset[Path]
    role: str  # "external" (never trained on) or "test" (its own test split)
    ok: bool = True
    why: str = ""


def held_out(card: ModelCard, dataset: str, repo: Path) -> HeldOut:
    """What `card`'s model never trained or was selected on among `dataset`'s films."""
    if dataset not in trained_on(card):
        return HeldOut(dataset, frozenset(), "external")
    path = config_path(card, repo)
    if path is None or not path.is_file():
        return HeldOut(dataset, frozenset(), "test", False, f"its config {path} is not in the checkout")
    try:
        reproduced = reproduce(load_config(path))
    except CxrError as error:
        return HeldOut(dataset, frozenset(), "test", False, f"its split cannot be rebuilt: {error}")
    problem = check_against_card(card, reproduced)
    if problem:
        return HeldOut(dataset, frozenset(), "test", False, f"its split cannot be rebuilt: {problem}")
    return HeldOut(dataset, reproduced.used, "test")
