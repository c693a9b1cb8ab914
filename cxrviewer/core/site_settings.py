"""A site's own operating thresholds: dated settings beside the cards, never edits of them.

WHO's guidance asks each screening programme to calibrate a CAD threshold on its own films; the card
keeps the threshold chosen on the model's validation data, and the site's choice lives here, in
`paths.site_settings_file()` (a shared path via `CXRVIEWER_SITE_SETTINGS` for a reading room). Every
place a call is made (findings, worklist, `analyze`, reports) reads it through
`analysis.findings.operating_threshold` and says so: "site threshold 0.42, calibrated on 212 local
films on 2026-12-10 (card 0.55)". Removing it returns to the card.

A setting records the card version it was calibrated for: a model shipped anew (another version) is
not silently run at an old site threshold; the call is refused until the site recalibrates or removes
it. Pure: json only.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

from cxrviewer import paths
from cxrviewer.core.errors import ConfigError
from cxrviewer.core.export.atomic import write_atomically

SCHEMA = "cxrviewer.site-settings/1"


@dataclass(frozen=True)
class SiteThreshold:
    """The site's operating threshold for one label of one model.

    threshold: the call is made when the label's score reaches it (as the card's threshold is).
    card_threshold / card_version: the card's own threshold and version when the site calibrated.
    films: how many local films with confirmed outcomes it was calibrated on; calibrated: ISO date.
    """

    model: str
    label: str
    threshold: float
    card_threshold: float
    card_version: str
    films: int
    calibrated: str
    note: str = ""

    def describe(self) -> str:
        return (f"site threshold {self.threshold:.2f}, calibrated on {self.films} local films on {self.calibrated} "
                f"(card {self.card_threshold:.2f})")


def _file(path: Path | None) -> Path:
    return Path(path) if path is not None else paths.site_settings_file()


def load_site_thresholds(path: Path | None = None) -> dict[str, SiteThreshold]:
    """The site thresholds by model name; {} when the site has none. A damaged file is a ConfigError
    naming it: calls must not quietly fall back to the card when the site chose otherwise."""
    target = _file(path)
    try:
        text = target.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise ConfigError(f"site settings {target}: not readable ({error.strerror})") from None
    try:
        data = json.loads(text)
        if data.get("schema") != SCHEMA:
            raise ValueError(f"schema is {data.get('schema')!r}, expected {SCHEMA!r}")
        settings = {}
        for entry in data.get("thresholds", []):
            setting = SiteThreshold(**entry)
            _validate(setting)
            settings[setting.model] = setting
        return settings
    except (ValueError, TypeError, AttributeError) as error:
        raise ConfigError(f"site settings {target}: damaged ({error}); fix or remove the file") from None


def _validate(setting: SiteThreshold) -> None:
    if not isinstance(setting.threshold, (int, float)) or not 0 <= setting.threshold <= 1 or math.isnan(setting.threshold):
        raise ValueError(f"threshold of {setting.model} must lie in [0, 1]")
    if not isinstance(setting.films, int) or setting.films < 1:
        raise ValueError(f"films of {setting.model} must be a positive count")
    date.fromisoformat(setting.calibrated)


def save_site_threshold(setting: SiteThreshold, path: Path | None = None) -> Path:
    """Add or replace the model's site threshold (atomically: a crash never leaves half a file)."""
    try:
        _validate(setting)
    except ValueError as error:
        raise ConfigError(f"site threshold: {error}") from None
    settings = load_site_thresholds(path)
    settings[setting.model] = setting
    return _write(settings, _file(path))


def remove_site_threshold(model: str, path: Path | None = None) -> bool:
    """Return the model to its card's threshold; False when the site had none for it."""
    settings = load_site_thresholds(path)
    if settings.pop(model, None) is None:
        return False
    _write(settings, _file(path))
    return True


def _write(settings: dict[str, SiteThreshold], target: Path) -> Path:
    document: dict[str, Any] = {"schema": SCHEMA, "thresholds": [asdict(s) for s in settings.values()]}
    text = json.dumps(document, indent=1) + "\n"
    target.parent.mkdir(parents=True, exist_ok=True)
    return write_atomically(target, lambda stream: stream.write(text.encode("utf-8")))
