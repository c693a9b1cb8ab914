"""Lesion-map sources: radiologists' boxes as weak masks (inside a box = lesion, outside = not), plus
normal radiographs of other sources as all-negative images, and the sources kept out of training.

Two models are trained this way: `tb_lesions` (TBX11K TB area boxes, below) and `opacity_lesions` /
`rsna_opacity` (RSNA lung opacity boxes, Hurt et al. 2020; see `opacity_lesions`).

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
OPACITY_LABEL = "opacity_lesions"
# RSNA parts of the opacity sources: the shipped opacity-rsna classifier's own split (module doc of `opacity_lesions`).
RSNA_PARTS = ("rsna_train", "rsna_val", "rsna_test")
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


def rsna_classifier_split(cfg: DataConfig) -> dict[str, str]:
    """RSNA patientId -> "rsna_train" / "rsna_val" / "rsna_test": exactly the split the shipped
    opacity-rsna classifier was trained with (configs/opacity-rsna.yaml: the `rsna` source, holdout by
    patient stratified by Target, val 0.2, test 0.2, seed 0), so the lesion model and the classifier are
    measured on the same held-out films, none of which either model trained on."""
    from cxrviewer.training.splits import holdout_split

    catalog = rsna(_sub(cfg, "rsna_pneumonia"))
    split = holdout_split(catalog.label_matrix(), [s.patient for s in catalog.samples], val_fraction=0.2,
                          test_fraction=0.2, seed=0)
    parts = {}
    for name, part in zip(RSNA_PARTS, (split.train, split.val, split.test), strict=True):
        parts.update({catalog.samples[i].patient: name for i in part})
    return parts


def rsna_opacity_samples(cfg: DataConfig) -> list[Sample]:
    """Every RSNA image with its opacity boxes as the mask (Target 0: no box, an all-negative map),
    patient id "<part>/<patientId>" with part from `rsna_classifier_split`."""
    parts = rsna_classifier_split(cfg)
    catalog = rsna(_sub(cfg, "rsna_pneumonia"))
    return [_as_lesion_sample(s, parts[s.patient]) for s in catalog.samples]


def rsna_opacity(cfg: DataConfig) -> Catalog:
    """RSNA lung opacity boxes as weak masks, RSNA images only (`opacity_lesions` without other normals).
    Train with split.val_sources [rsna_val], test_sources [rsna_test], test_fraction 0."""
    return Catalog(tuple(rsna_opacity_samples(cfg)), (OPACITY_LABEL,),
                   f"RSNA pneumonia subset ({cfg.root}/rsna_pneumonia; research use): lung opacity boxes as weak "
                   "masks, Target 0 images all-negative; split as the opacity-rsna classifier's (by patient, "
                   "val 0.2, test 0.2, seed 0)")


def opacity_lesions(cfg: DataConfig) -> Catalog:
    """Lung opacity maps (Hurt et al. 2020): RSNA's opacity boxes as weak masks, its Target 0 images as
    all-negative maps, plus all 274 OpenIST normal adult radiographs as all-negative training images
    (patient "openist/<id>"), so the map also sees another scanner with nothing to find.

    RSNA is split as the shipped opacity-rsna classifier was (`rsna_classifier_split`): the config keeps
    rsna_val for model selection and the threshold, rsna_test for the internal figures. Kept out of
    training and selection entirely, for the external checks: TBX11K (TB boxes, another hospital),
    Shenzhen (TB vs normal) and JSRT non-nodule (normals)."""
    samples = rsna_opacity_samples(cfg) + normal_samples(cfg, "openist")
    return Catalog(tuple(samples), (OPACITY_LABEL,),
                   f"RSNA pneumonia subset ({cfg.root}/rsna_pneumonia; research use): lung opacity boxes as weak "
                   "masks, Target 0 images all-negative; split as the opacity-rsna classifier's (by patient, "
                   f"val 0.2, test 0.2, seed 0) + OpenIST normal adult radiographs (all 274, {cfg.root}/openist_lungs) "
                   "as all-negative training images; TBX11K, Shenzhen and JSRT never used")


def source_of(sample: Sample) -> str:
    """"tbx11k", "openist", "rsna", "kermany", "jsrt" (or "rsna_train", "rsna_val", "rsna_test" of the
    opacity sources): the first part of the patient id, or the second in a `combined` catalog (whose
    ids start with the part's source name)."""
    parts = sample.patient.split("/")
    return parts[1] if parts[0] in COMBINED_PARTS and len(parts) > 2 else parts[0]
