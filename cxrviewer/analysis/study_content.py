"""One study's default view and readings as an `ExportContent`, without a window: the study at its
first window with each lesion model's layer as the viewer draws it by default (no explanation maps:
those need a class chosen by a reader), and every finding model's reading. What `cxrviewer report`
prints, and the Secondary Capture sent to the archive for a study that is not on screen
(`analysis.dicom_results.study_objects`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cxrviewer.analysis import pipeline
from cxrviewer.analysis.report_readings import finding_reading, gate_verdict, lesion_reading, pending_reading
from cxrviewer.analysis.study import StudyAnalysis
from cxrviewer.core.display.compose import compose, index_map
from cxrviewer.core.errors import CxrError
from cxrviewer.core.export import ExportContent
from cxrviewer.core.io import read_image
from cxrviewer.core.layers import LayerStack, overlay_layers, summary_line
from cxrviewer.core.legend import layer_legend
from cxrviewer.core.reading_words import percent


def study_content(path: Path, models_dir: Path | None, anonymise: bool) -> ExportContent:
    """The ExportContent of one study: its view with the lesion layers, and every finding model's
    reading (a model that fails is reported as such, not left out)."""
    image = read_image(path)
    roles = pipeline.model_roles(models_dir)
    study = StudyAnalysis(image.pixels, models_dir, roles=roles)
    readings, cards, gate = [], [], ""
    stack, maps, explains = LayerStack(), {}, {}
    steps = [("gate", roles.gate)] + [("finding", name) for name in roles.classifiers]
    steps += [("lesions", name) for name in roles.lesions]
    for kind, name in steps:
        if name is None:
            continue
        try:
            loaded = study.model(name)
        except CxrError as error:
            readings.append(pending_reading(name, str(error)))
            continue
        cards.append(loaded.card)
        try:
            payload = study.run(kind, name)
        except CxrError as error:
            readings.append(pending_reading(name, str(error)))
            continue
        if kind == "gate":
            gate = gate_verdict(payload)
        elif kind == "lesions":  # each lesion model's map in its own layer
            readings.append(lesion_reading(payload, loaded.card))
            stack.adopt_lesion_threshold(payload.threshold, payload.label)
            maps[payload.label] = index_map(payload.probability, stack[payload.label].normalisation)
            explains[payload.label] = f"{name}, image score {percent(payload.score)}"
        else:
            readings.append(finding_reading(payload, loaded.card))
    base = np.rint(image.pixels * 255).astype(np.uint8)
    layers = ["Base: original, at the file's first window"]
    shown = [kind for kind in maps if stack[kind].visible]
    layers += [summary_line(stack[kind], maps[kind]) for kind in shown]
    legends = tuple(layer_legend(stack[kind], maps[kind], explains[kind]) for kind in shown)
    return ExportContent(compose(base, overlay_layers(stack, maps)), tuple(layers), image.meta,
                         tuple(readings), gate, tuple(cards), anonymise, legends=legends)
