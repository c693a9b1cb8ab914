"""The `tb_lesions` source: TBX11K's TB boxes as weak masks, plus normal radiographs of other sources as
all-negative images, and the normal sources kept out of training for the false-positive check.

TBX11K here holds TB-positive images only (shared data README). Inside a TB image the pixels outside
the boxes are the negatives; normal adult radiographs of two other sources (OpenIST, RSNA Target 0)
add whole images without any lesion, so the model also sees other scanners with nothing to find.
JSRT's non-nodule radiographs never enter training: they are the source the image-level score's
false-positive rate is first read on. Every sample's patient id starts with its source
("tbx11k/", "openist/", "rsna/"), which is how evaluation reports per source.

The `kermany_normals` source adds Kermany's paediatric NORMAL films as all-negative images (the
shipped model lit up both lungs of children's films). It is meant to sit beside `tb_lesions` in a
`combined` data config, so each part is split on its own and the `tb_lesions` part keeps exactly the
split a run of `tb_lesions` alone makes (same TB, OpenIST and RSNA held-out images to compare on).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from cxrviewer.training.config import DataConfig
from cxrviewer.training.sources import (
    Catalog,
    Sample,
    _read_rows,
    jsrt_bse,
    kermany,
    openist_lungs,
    rsna,
    tbx11k,
)

LABEL = "tb_lesions"
TRAINING_NORMALS = ("openist", "rsna")  # sources whose normals are all-negative training images
HELD_OUT_NORMALS = ("jsrt",)  # never in training: JSRT non-nodule radiographs
# Source names of a `combined` lesion config: its patient ids read "<part>/<source>/<id>".
COMBINED_PARTS = ("tb_lesions", "kermany_normals")


def _sub(cfg: DataConfig, folder: str) -> DataConfig:
    return DataConfig(source=folder, root=str(Path(cfg.root) / folder))


def _as_lesion_sample(sample: Sample, source: str) -> Sample:
    return dataclasses.replace(sample, patient=f"{source}/{sample.patient}", labels=(), mask=None,
                               mask_kind="boxes", target=None)


def tbx11k_lesions(cfg: DataConfig) -> list[Sample]:
    """TBX11K TB images with their boxes (stored-image pixels) as the positive mask. A TB image without
    a box (one in the shared set) is left out: its lesions are unmarked, not absent."""
    return [_as_lesion_sample(s, "tbx11k") for s in tbx11k(_sub(cfg, "tbx11k_tb")).samples if s.boxes]


def normal_samples(cfg: DataConfig, source: str) -> list[Sample]:
    """All-negative samples of one normal source: "openist" (all 274 are normal adult PA), "rsna"
    (Target 0: no lung opacity; it mixes normal and not-normal) or "jsrt" (non-nodule radiographs,
    stored inverted: the sample says so and the reader flips them back)."""
    if source == "openist":
        found = openist_lungs(_sub(cfg, "openist_lungs")).samples
    elif source == "rsna":
        catalog = rsna(_sub(cfg, "rsna_pneumonia"))
        no_opacity = catalog.classes.index("no_opacity")
        found = tuple(s for s in catalog.samples if s.labels == (no_opacity,))
    elif source == "jsrt":
        root = Path(cfg.root) / "jsrt_bse"
        non_nodule = {r["id"] for r in _read_rows(root / "pairs.csv") if r["jsrt_class"] == "non-nodule"}
        found = tuple(s for s in jsrt_bse(_sub(cfg, "jsrt_bse")).samples if s.patient in non_nodule)
    else:
        raise ValueError(f"unknown normal source {source!r}")
    return [_as_lesion_sample(s, source) for s in found]


def tb_lesions(cfg: DataConfig) -> Catalog:
    """`cfg.root` is the shared data folder (the one holding tbx11k_tb, openist_lungs, ...)."""
    samples = tbx11k_lesions(cfg)
    for source in TRAINING_NORMALS:
        samples += normal_samples(cfg, source)
    description = (f"TBX11K train TB images with TB area boxes as weak masks (the 599 with a box) ({cfg.root}/tbx11k_tb; "
                   f"non-commercial research use) + normal radiographs as all-negative images: OpenIST "
                   f"(all 274) and RSNA pneumonia Target 0 ({cfg.root}); JSRT non-nodule held out of training")
    return Catalog(tuple(samples), (LABEL,), description)


def kermany_normals(cfg: DataConfig) -> Catalog:
    """Kermany NORMAL films (children aged 1-5), one per patient (the first by file name, so a
    patient's other films cannot sit on the other side of a split), as all-negative lesion samples
    with patient "kermany/<patient>". `cfg.root` is the shared data folder; `cfg.limit` (applied by
    the `combined` source) keeps a seeded subsample."""
    catalog = kermany(_sub(cfg, "kermany_pneumonia/train"))
    normal = catalog.classes.index("normal")
    first: dict[str, Sample] = {}
    for sample in sorted(catalog.samples, key=lambda s: s.path.name):
        if sample.labels == (normal,):
            first.setdefault(sample.patient, sample)
    samples = tuple(_as_lesion_sample(s, "kermany") for s in first.values())
    return Catalog(samples, (LABEL,), f"Kermany NORMAL paediatric films, one per patient ({cfg.root}/kermany_pneumonia; "
                                      "research use) as all-negative images")


def source_of(sample: Sample) -> str:
    """"tbx11k", "openist", "rsna", "kermany", "jsrt": the first part of the patient id, or the second
    in a `combined` catalog (whose ids start with the part's source name)."""
    parts = sample.patient.split("/")
    return parts[1] if parts[0] in COMBINED_PARTS and len(parts) > 2 else parts[0]
