"""The known-answer check: before a copy of a model answers for a reader, it answers a question whose
answer its card records, through the viewer's own path (read the study, preprocess, run, summarise).

The question is the demo study that ships with the program (`card.known_answer.input`, relative to
`resources/`), so the check runs wherever the program is installed, without the shared data. It
catches what a signature cannot: a runtime, provider, decoder or preprocessing step that changed
under an unchanged model. A signed model must carry a known answer; an unsigned one is checked when
its card has one.

The verdict is cached by the model's trust digest (the signed manifest's hash, or the card's for an
unsigned model: any change to the card or its files makes a new digest) and the provider, in
`paths.cache_dir()/known-answers.json`, so a start-up after the first runs no model. Only passes are
cached: a failure is re-examined on the next load.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from cxrviewer import paths
from cxrviewer.core.errors import CxrError, ModelError
from cxrviewer.core.export.atomic import write_atomically
from cxrviewer.core.io import read_image
from cxrviewer.runtime.backend import LoadedModel

log = logging.getLogger(__name__)

CACHE_NAME = "known-answers.json"
_lock = threading.Lock()


def known_answer_pixels(relative_input: str, model: str) -> np.ndarray:
    path = paths.resources_dir() / relative_input
    try:
        return read_image(path).pixels
    except CxrError as error:
        raise ModelError(model, f"its known-answer study {relative_input} cannot be read ({error})") from error


def recompute(loaded: LoadedModel, relative_input: str) -> tuple[tuple[float, ...], dict[str, float]]:
    """(probabilities, figures) the loaded model gives for `relative_input`, as the viewer computes them."""
    from cxrviewer.analysis.batch import reference_figures
    from cxrviewer.analysis.findings import classify_pixels

    pixels = known_answer_pixels(relative_input, loaded.card.name)
    if loaded.card.is_classifier:
        return classify_pixels(loaded, pixels).probabilities, {}
    return (), reference_figures(loaded, pixels)


def differences(loaded: LoadedModel) -> list[str]:
    """Each way the model's answer now differs from its card's known answer (empty: it agrees)."""
    answer = loaded.card.known_answer
    assert answer is not None
    probabilities, figures = recompute(loaded, answer.input)
    found = []
    for label, now, then in zip(loaded.card.labels, probabilities, answer.probabilities, strict=False):
        if abs(now - then) > answer.tolerance:
            found.append(f"P({label}) {now:.4f}, the card says {then:.4f}")
    for key, then in answer.figures.items():
        now = figures.get(key)
        if now is None:
            found.append(f"figure {key} is no longer computed")
        elif abs(now - then) > answer.tolerance * max(abs(then), 1.0):
            found.append(f"{key} {now:.5g}, the card says {then:.5g}")
    return found


def check_known_answer(loaded: LoadedModel) -> None:
    """Raise ModelError (naming the model and the differing outputs) unless the model gives its card's
    known answer on this machine; passes are remembered by trust digest and provider."""
    card = loaded.card
    if card.known_answer is None:
        if loaded.trust.signed:
            raise ModelError(card.name, "it is signed but its card records no known answer to check it by")
        return
    key = f"{loaded.trust.digest}|{loaded.provider}"
    if key in _read_cache():
        return
    found = differences(loaded)
    if found:
        raise ModelError(card.name, f"it does not give its known answer on {card.known_answer.input} through "
                                    f"this installation ({loaded.provider}): " + "; ".join(found[:3]))
    _remember(key, card.name)


def _cache_file() -> Path:
    return paths.cache_dir() / CACHE_NAME


def _read_cache() -> dict[str, dict]:
    try:
        data = json.loads(_cache_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _remember(key: str, model: str) -> None:
    """Add one pass to the cache; a cache that cannot be written only costs a recheck next time."""
    with _lock:
        cache = _read_cache()
        cache[key] = {"model": model, "checked": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
        text = json.dumps(cache, indent=1, sort_keys=True) + "\n"
        try:
            _cache_file().parent.mkdir(parents=True, exist_ok=True)
            write_atomically(_cache_file(), lambda stream: stream.write(text.encode("utf-8")))
        except (OSError, CxrError) as error:
            log.warning("known-answer cache %s not written (%s); the check will run again", _cache_file(), error)
