"""Both rates of a trained `cxr_gate` run: acceptance of held-out chest radiographs per source, and
rejection of each kind of non-chest image.

Kinds of negative, each reported on its own row:
- "test: <kind>": the synthetic kinds of training (turned, tile-shuffled, noise, shapes) made from
  the held-out test radiographs: seen kinds, unseen images;
- "pydicom <modality>": every CT, MR, US, NM and OT image (one per SOP instance) bundled with
  pydicom that the viewer's own reader opens (never seen in training);
- "photographs and graphics": matplotlib's bundled sample pictures (a portrait, logos);
- "scikit-image samples": the 23 sample pictures bundled with scikit-image (photographs, microscopy,
  a retina, textures, text, a logo);
- "patterns": white noise, a checkerboard, a gradient, a flat field, generated here with other
  generators than training's.
Accepted: the test-split radiographs of each source, and the shared chest DICOM files.
Every image goes through the viewer's reader and the card's input contract as in the viewer.

`python -m cxrviewer.training.gate_eval RUN_DIR [--card models/NAME.card.json]` prints the table,
writes RUN_DIR/gate.json and, with --card, puts both rates per row into the exported card.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import warnings
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch

from cxrviewer import paths
from cxrviewer.core.cards import Metric, load_card, write_card
from cxrviewer.core.errors import CxrError
from cxrviewer.core.io import read_image
from cxrviewer.core.preprocess import prepare
from cxrviewer.training.checkpoint import build_from_checkpoint, read_checkpoint
from cxrviewer.training.config import config_from_dict
from cxrviewer.training.data import read_pixels
from cxrviewer.training.gate_data import CLASSES, derive_pixels, source_of
from cxrviewer.training.run_split import load_run_split
from cxrviewer.training.sources import load_catalog, subsample

log = logging.getLogger(__name__)

PYDICOM_MODALITIES = ("CT", "MR", "US", "NM", "OT")
PHOTOS = ("grace_hopper.jpg", "logo2.png", "Minduka_Present_Blue_Pack.png")


@dataclass(frozen=True)
class Rate:
    """group: a source (accepted rows) or a kind of negative; passed: accepted (positives) or rejected."""

    group: str
    expected: str  # "accept" or "reject"
    images: int
    passed: int

    @property
    def rate(self) -> float:
        return self.passed / self.images if self.images else float("nan")


def pydicom_images() -> dict[str, list[npt.NDArray[np.float32]]]:
    """modality → pixels (H, W) float32 [0, 1] of pydicom's bundled test files the viewer's reader opens."""
    from pydicom.data import get_testdata_files

    found: dict[str, list[npt.NDArray[np.float32]]] = defaultdict(list)
    seen: set[str] = set()
    with warnings.catch_warnings():  # the test set's odd files are odd on purpose: no warning is news
        warnings.simplefilter("ignore")
        for name in get_testdata_files():
            _read_test_file(name, found, seen)
    return dict(found)


def _read_test_file(name: str, found: dict[str, list[npt.NDArray[np.float32]]], seen: set[str]) -> None:
    """Adds the file's pixels under its modality, once per SOP instance (the set stores one image in
    many transfer syntaxes)."""
    import pydicom

    try:
        header = pydicom.dcmread(name, stop_before_pixels=True, force=True)
    except Exception:  # noqa: BLE001 - pydicom's test set holds deliberately broken files
        return
    modality, uid = str(getattr(header, "Modality", "")), str(getattr(header, "SOPInstanceUID", name))
    if modality not in PYDICOM_MODALITIES or uid in seen:
        return
    try:
        found[modality].append(read_image(name).pixels)
    except CxrError as error:
        log.debug("skipped %s: %s", name, error)
        return
    seen.add(uid)


def photographs() -> list[npt.NDArray[np.float32]]:
    import matplotlib

    folder = Path(matplotlib.get_data_path()) / "sample_data"
    return [read_image(folder / name).pixels for name in PHOTOS if (folder / name).exists()]


# scikit-image's bundled sample pictures (in the wheel, nothing fetched): photographs, microscopy,
# astronomy, textures, text, a retina, a logo.
SKIMAGE_SAMPLES = ("astronaut", "camera", "coins", "moon", "page", "text", "horse", "clock", "coffee", "chelsea",
                   "rocket", "hubble_deep_field", "immunohistochemistry", "grass", "gravel", "brick", "retina",
                   "microaneurysms", "cell", "binary_blobs", "checkerboard", "logo", "colorwheel")


def scikit_image_samples() -> list[npt.NDArray[np.float32]]:
    """The samples above as (H, W) float32 [0, 1] grey (colour by luma, alpha dropped)."""
    from skimage import data
    from skimage.color import rgb2gray
    from skimage.util import img_as_float32

    images = []
    for name in SKIMAGE_SAMPLES:
        image = img_as_float32(getattr(data, name)())
        if image.ndim == 3:
            image = rgb2gray(image[..., :3])
        images.append(np.clip(image, 0, 1).astype(np.float32))
    return images


def patterns(size: int = 512) -> list[npt.NDArray[np.float32]]:
    rng = np.random.default_rng(12345)
    yy, xx = np.mgrid[:size, :size] / size
    return [
        rng.uniform(0, 1, (size, size)).astype(np.float32),
        (((yy * 8).astype(int) + (xx * 8).astype(int)) % 2).astype(np.float32),
        xx.astype(np.float32),
        np.full((size, size), 0.5, np.float32),
    ]


class Gate:
    """A trained gate in PyTorch, used exactly as the exported one: the card contract's prepare, softmax."""

    def __init__(self, run_dir: Path):
        weights = run_dir / "checkpoints" / "best.safetensors"
        checkpoint = read_checkpoint(weights)
        self.model = build_from_checkpoint(checkpoint).eval()
        self.threshold = float(checkpoint.meta.get("thresholds", [0.5, 0.5])[1])
        self.config = config_from_dict(json.loads((run_dir / "config.json").read_text(encoding="utf-8")),
                                       origin=str(run_dir / "config.json"))

    @torch.no_grad()
    def scores(self, images: Iterable[npt.NDArray[np.float32]]) -> npt.NDArray[np.float64]:
        """P(frontal_cxr) for each (H, W) float32 [0, 1] image."""
        tensors = [prepare(image, self.config.input)[0] for image in images]
        if not tensors:
            return np.zeros(0)
        out = []
        for start in range(0, len(tensors), 32):
            logits = self.model(torch.from_numpy(np.stack(tensors[start:start + 32])))
            out.append(torch.softmax(logits, 1)[:, CLASSES.index("frontal_cxr")].double().numpy())
        return np.concatenate(out)


def evaluate_run(run_dir: Path) -> tuple[float, list[Rate]]:
    gate = Gate(run_dir)
    config = gate.config
    catalog = subsample(load_catalog(config.data), config.data, seed=config.seed)
    test = [catalog.samples[i] for i in load_run_split(run_dir, catalog).test]
    groups: dict[tuple[str, str], list[npt.NDArray[np.float32]]] = defaultdict(list)
    for sample in test:
        pixels = read_pixels(sample.path, inverted=sample.inverted)
        if sample.derive:
            pixels = derive_pixels(pixels, sample.derive, seed_text=f"{sample.path}|{sample.derive}")
            groups[(f"test: {sample.derive}", "reject")].append(pixels)
        else:
            groups[(f"test: {source_of(sample)}", "accept")].append(pixels)
    shared_dicom = paths.shared_data_dir() / "dicom"
    groups[("shared chest DICOM", "accept")] = [read_image(p).pixels for p in sorted(shared_dicom.glob("*.dcm"))]
    for modality, images in sorted(pydicom_images().items()):
        groups[(f"pydicom {modality}", "reject")] = images
    groups[("photographs and graphics", "reject")] = photographs()
    groups[("scikit-image samples", "reject")] = scikit_image_samples()
    groups[("patterns", "reject")] = patterns()
    rates = []
    for (group, expected), images in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        accepted = gate.scores(images) >= gate.threshold
        passed = int(accepted.sum() if expected == "accept" else (~accepted).sum())
        rates.append(Rate(group, expected, len(images), passed))
    return gate.threshold, rates


def to_markdown(threshold: float, rates: list[Rate]) -> str:
    lines = [f"Operating threshold on P(frontal_cxr): {threshold:.4f} (Youden on validation)", "",
             "| images | should be | n | rate |", "| --- | --- | --- | --- |"]
    lines += [f"| {r.group} | {r.expected}ed | {r.images} | {r.rate:.3f} |" for r in rates]
    return "\n".join(lines)


CHECKED_AGAINST = "Checked against "


def apply_to_card(card_file: Path, threshold: float, rates: list[Rate]) -> None:
    """Add each row's rate to an exported card's metrics ("acceptance_rate" / "rejection_rate", the
    row and its n as the split), what the score means, and what the gate was not checked against."""
    card = load_card(card_file, verify_files=False)
    rows = [Metric("acceptance_rate" if r.expected == "accept" else "rejection_rate", r.rate,
                   f"{r.group} (n={r.images})") for r in rates]
    kept = [m for m in card.metrics if m.name not in ("acceptance_rate", "rejection_rate")]
    meaning = (f"P(frontal chest radiograph); the image is accepted at {threshold:.4f} or above (Youden's J on "
               "validation), otherwise the findings are withheld until the reader overrides")
    limits = (*(text for text in card.limits if not text.startswith(CHECKED_AGAINST)),
              CHECKED_AGAINST + "turned radiographs (90/180/270 degrees), tile-shuffled radiographs, noise, shapes, "
              "pydicom's bundled CT/MR/US/NM/OT images, matplotlib's and scikit-image's sample pictures and generated "
              "patterns; "
              "no lateral chest radiograph is in the shared data, so rejection of lateral views is not measured")
    write_card(dataclasses.replace(card, metrics=(*kept, *rows), probability_meaning=meaning,
                                   limits=tuple(dict.fromkeys(limits))), card_file)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="acceptance per source and rejection per kind of a cxr_gate run")
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--card", type=Path, default=None, help="an exported card to write the rates into")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("pydicom").setLevel(logging.CRITICAL)  # its deliberately broken test files
    logging.getLogger("cxrviewer.core.io").setLevel(logging.ERROR)
    threshold, rates = evaluate_run(args.run_dir)
    (args.run_dir / "gate.json").write_text(
        json.dumps({"threshold": threshold, "rates": [dataclasses.asdict(r) for r in rates]}, indent=1), encoding="utf-8")
    if args.card is not None:
        apply_to_card(args.card, threshold, rates)
    log.info("%s\n%s", args.run_dir, to_markdown(threshold, rates))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
