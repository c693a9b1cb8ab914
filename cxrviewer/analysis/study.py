"""One study through the installed models: the one step API of the viewer, the worklist, `analyze`,
`report` and the results sent to the archive.

A `StudyAnalysis` holds one study's pixels and runs each step on them at most once per version of
the model: the gate, each classifier, each lesion model, the lungs, the soft-tissue view and the maps.
Steps that need another step's output take it from here rather than computing it again:

- a classifier's one forward pass gives its finding, and its features give its Grad-CAM, CAM and CRM
  maps (`findings.forward_pass`, `study_maps.maps_of_pass`);
- the lung probability is computed once for the lungs layer, the soft-tissue blend and the input box
  of a classifier cropped to the lungs.

`run(kind, key)` is the dispatcher every caller uses, so each kind of step is written once. Not
thread-safe: one thread works on a StudyAnalysis at a time (the viewer's one analysis worker, a
triage job, a command's loop).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from cxrviewer.analysis import pipeline
from cxrviewer.analysis.findings import Finding, ForwardPass, finding_of, forward_pass
from cxrviewer.analysis.gate import ACCEPTED_LABEL, GateResult, check_gate_card, gate_result
from cxrviewer.analysis.installed import installed_model
from cxrviewer.analysis.study_maps import MAP_METHODS, maps_of_pass
from cxrviewer.core.errors import CxrError, ModelError
from cxrviewer.runtime.backend import LoadedModel

Array = npt.NDArray[np.float32]
# A stand-in for a classifier's forward pass: (model name, pixels, models folder) → its Finding (tests).
Classify = Callable[[str, Array, Path | None], Finding]

STEP_KINDS = ("gate", "finding", "lesions", "lungs", "soft_tissue", "maps")


class StudyAnalysis:
    """pixels: (H, W) float32 in [0, 1], display polarity (air dark). models_dir: the installed models
    (default `paths.models_dir()`). roles: the parts they play, when the caller has read them already.
    classify: a stand-in for the classifiers' forward pass (tests); its findings keep no features, so
    maps then make their own pass."""

    def __init__(self, pixels: Array, models_dir: Path | None = None, *, roles: pipeline.ModelRoles | None = None,
                 classify: Classify | None = None):
        self.pixels = np.asarray(pixels, dtype=np.float32)
        self.models_dir = models_dir
        self._roles = roles
        self._classify = classify
        # name → (the LoadedModel it came from, value): a re-exported model is another LoadedModel.
        self._passes: dict[str, tuple[LoadedModel, ForwardPass]] = {}
        self._outputs: dict[str, tuple[LoadedModel, dict[str, Array]]] = {}

    @property
    def roles(self) -> pipeline.ModelRoles:
        if self._roles is None:
            self._roles = pipeline.model_roles(self.models_dir)
        return self._roles

    def model(self, name: str) -> LoadedModel:
        """Installed model `name`, verified and checked (`analysis.installed`)."""
        return installed_model(name, self.models_dir)

    def run(self, kind: str, key: object) -> object:
        """The payload of step `kind` (one of STEP_KINDS) for `key`: a model name, or (classifier,
        class index) for "maps". GateResult, Finding, LesionFinding, (H, W) P(lung), (soft tissue,
        bones) or {method: (H, W) map}. Raises CxrError naming the model when the step cannot run."""
        if kind == "gate":
            return self.gate(key)
        if kind == "finding":
            return self.finding(key)
        if kind == "lesions":
            return self.lesions(key)
        if kind == "lungs":
            return self.lungs(key)
        if kind == "soft_tissue":
            return self.soft_tissue(key)
        if kind == "maps":
            model, class_index = key
            return self.maps(model, class_index)
        raise ValueError(f"unknown analysis step {kind!r} (steps: {', '.join(STEP_KINDS)})")

    # -- the steps -----------------------------------------------------------------------------------
    def gate(self, name: str) -> GateResult:
        """Is this a frontal chest radiograph, by gate model `name`?"""
        if self._classify is None:
            check_gate_card(self.model(name).card)
        finding = self.finding(name)
        if len(finding.labels) != 2 or finding.labels[1] != ACCEPTED_LABEL:
            raise ModelError(finding.model, f"a gate's labels must be (other, {ACCEPTED_LABEL}), got {list(finding.labels)}")
        return gate_result(finding)

    def finding(self, name: str) -> Finding:
        """Classifier `name`'s probabilities and call; its forward pass is kept for its maps."""
        if self._classify is not None:
            return self._classify(name, self.pixels, self.models_dir)
        loaded = self.model(name)
        return finding_of(loaded, self._forward(loaded))

    def lesions(self, name: str) -> pipeline.LesionFinding:
        """Lesion model `name`'s map, image score and call."""
        started = time.perf_counter()
        loaded = self.model(name)
        pipeline.lesion_label_of(loaded.card)
        outputs = self.image_outputs(name)
        return pipeline.lesion_finding_of(loaded, outputs, time.perf_counter() - started)

    def lungs(self, name: str | None = None) -> Array:
        """(H, W) float32 P(lung) by lung model `name` (default the installed one)."""
        name = name if name is not None else self.roles.lungs
        if name is None:
            raise ModelError("lungs", "no lung segmentation model is installed")
        loaded = self.model(name)
        card = loaded.card
        if card.task != "segmentation" or pipeline.LUNGS_LABEL not in card.labels:
            raise ModelError(card.name, f"is a {card.task} model with labels {list(card.labels)}, "
                                        f"not a segmentation model with a {pipeline.LUNGS_LABEL!r} channel")
        return self.image_outputs(name)[pipeline.LUNGS_LABEL]

    def soft_tissue(self, name: str) -> tuple[Array, Array]:
        """Bone-suppression model `name`'s soft-tissue view and bones layer, inside the installed lung
        model's lungs; NoLungModelError when there is no lung mask to blend with."""
        lungs_model = self.roles.lungs
        if lungs_model is None:
            raise pipeline.NoLungModelError(name)
        try:
            lungs = self.lungs(lungs_model)
        except CxrError as error:
            raise pipeline.NoLungModelError(name, "the bone-suppressed view is not offered: it needs the lung mask, "
                                                  f"and lung model {lungs_model} failed ({error})") from None
        return pipeline.soft_tissue(self.model(name), self.pixels, lungs)

    def maps(self, name: str, class_index: int, methods: Sequence[str] = MAP_METHODS) -> dict[str, Array]:
        """{method: (H, W) float32 raw map} explaining class `class_index` of classifier `name`, from
        the forward pass its finding made (one pass per study, not two)."""
        loaded = self.model(name)
        return maps_of_pass(loaded, self._forward(loaded), methods, int(class_index))

    def image_outputs(self, name: str) -> dict[str, Array]:
        """Image-to-image model `name`'s outputs on the study (`pipeline.image_outputs`), computed once."""
        loaded = self.model(name)
        kept = self._outputs.get(name)
        if kept is None or kept[0] is not loaded:
            kept = (loaded, pipeline.image_outputs(loaded, self.pixels))
            self._outputs[name] = kept
        return kept[1]

    # -- shared work ---------------------------------------------------------------------------------
    def _forward(self, loaded: LoadedModel) -> ForwardPass:
        name = loaded.card.name
        kept = self._passes.get(name)
        if kept is None or kept[0] is not loaded:
            # A classifier cropped to the lungs takes the study's lung probability from here; without a
            # lung model, model_input says why it cannot run.
            crops = loaded.card.input.needs_lung_box and self.roles.lungs is not None
            lungs = self.lungs() if crops else None
            kept = (loaded, forward_pass(loaded, self.pixels, lungs))
            self._passes[name] = kept
        return kept[1]
