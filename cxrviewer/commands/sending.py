"""Results of a study sent back to a PACS: the one path `analyze --send` and `listen --send` share."""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)


def send_results(path: Path, peer: str, settings, models_dir: Path | None, anonymise: bool, way: str = "dimse",
                 outbox: Path | None = None):
    """SR, SEG and SC of one study file queued for `peer` in `outbox` (default: the site's), then
    everything pending there retried; the RetryReport."""
    from cxrviewer.analysis.dicom_results import study_objects
    from cxrviewer.net.outbox import outbox_folder, send_through_outbox

    objects = study_objects(path, models_dir, anonymise)
    report = send_through_outbox(outbox or outbox_folder(), objects, peer, settings, way)
    log.info("results of %s to %s: %s", path.name, peer, report.describe())
    return report
