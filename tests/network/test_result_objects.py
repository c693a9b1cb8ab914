"""The objects sent back, without a PACS: the SR carries the threshold in force (a site threshold
here) and each region of the lesion model; the SEG's masks are `analyze`'s maps at 0.5."""

from __future__ import annotations

from datetime import date
from io import BytesIO

import highdicom as hd
import numpy as np
import pydicom
import pytest
from orthanc_support import shared_dicoms

from cxrviewer.analysis.dicom_results import result_datasets, study_results
from cxrviewer.analysis.installed import installed_model
from cxrviewer.analysis.pipeline import MASK_PROBABILITY, image_outputs
from cxrviewer.core.export.dicom_seg import read_masks
from cxrviewer.core.export.dicom_sr import read_findings
from cxrviewer.core.io import read_image
from cxrviewer.core.site_settings import SiteThreshold, save_site_threshold

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
SIIM = "siim_pneumothorax_CR_chest_PA_jpegbaseline_mono2.dcm"


def written_and_read(ds):
    buffer = BytesIO()
    pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
    buffer.seek(0)
    return pydicom.dcmread(buffer)


def text_values(ds) -> list[str]:
    """Every TEXT content item's value in the SR tree."""
    found = []

    def visit(dataset, element):
        if element.keyword == "TextValue":
            found.append(str(element.value))

    ds.walk(visit)
    return found


def test_sr_and_seg_carry_the_site_threshold_regions_and_masks(tmp_path, monkeypatch):
    monkeypatch.setenv("CXRVIEWER_SITE_SETTINGS", str(tmp_path / "site.json"))
    card = installed_model("tb-screen-shenzhen").card
    save_site_threshold(SiteThreshold("tb-screen-shenzhen", "tb", 0.05, card.thresholds[1], card.version, 120,
                                      date.today().isoformat()))
    path = next(p for p in shared_dicoms() if p.name == SIIM)
    results = study_results(path)
    tb = next(f for f in results.findings if (f.model, f.label) == ("tb-screen-shenzhen", "tb"))
    assert tb.threshold == 0.05 and tb.threshold_source.startswith("site threshold 0.05, calibrated on 120")
    assert tb.called == (tb.probability >= 0.05)
    sr, seg = (written_and_read(ds) for ds in result_datasets(results))
    assert read_findings(sr)[("tb-screen-shenzhen", "tb")]["threshold"] == pytest.approx(0.05)
    texts = text_values(sr)
    assert any(t.startswith("threshold: 0.05 (site threshold 0.05, calibrated on 120") for t in texts)
    assert "signature: signed release model" in texts

    lesions = next(f for f in results.findings if f.model == "tb-lesions-tbx11k")
    assert lesions.regions, "the lesion model marks no region on this film"
    rois = hd.sr.ComprehensiveSR.from_dataset(sr).content.get_planar_roi_measurement_groups()
    assert len(rois) == len(lesions.regions)
    for roi, region in zip(rois, lesions.regions, strict=True):
        (peak,) = roi.get_measurements()
        assert float(peak.value) == pytest.approx(region.peak, abs=1e-12)
        y0, x0, y1, x1 = region.box
        corners = roi.roi.value  # (x, y) pixel coordinates of the outline
        assert {tuple(c) for c in np.asarray(corners).tolist()} == {(x0, y0), (x1, y0), (x1, y1), (x0, y1)}

    # The SEG's lesion mask is `analyze`'s lesion map at 0.5, pixel for pixel.
    pixels = read_image(path).pixels
    expected = image_outputs(installed_model("tb-lesions-tbx11k"), pixels)["tb_lesions"] >= MASK_PROBABILITY
    masks = read_masks(seg)
    assert np.array_equal(masks["tb_lesions"], expected)
    assert masks["lungs"].shape == pixels.shape and 0.1 < masks["lungs"].mean() < 0.6
