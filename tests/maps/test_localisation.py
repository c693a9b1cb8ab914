"""Localisation measures on synthetic maps with known answers, and the box readers."""

from __future__ import annotations

import numpy as np
import pytest

from cxrviewer import paths
from cxrviewer.analysis.localisation import (
    Box,
    boxes_mask,
    lung_mask,
    mass_share,
    pointing_game,
    read_lung_mask_files,
    read_rsna_boxes,
    read_tbx11k_boxes,
    read_voc_boxes,
    score_maps,
    thresholded_iou,
)

SHAPE = (100, 200)
BOX = Box(20, 10, 60, 50)  # 40 × 40 pixels


def test_boxes_mask_counts_pixel_centres():
    mask = boxes_mask(SHAPE, [BOX, Box(50, 40, 70, 60)])
    assert mask.sum() == 40 * 40 + 20 * 20 - 10 * 10
    assert mask[10, 20] and not mask[10, 60] and not mask[9, 20]


def test_measures_on_a_map_with_known_answers():
    mask = boxes_mask(SHAPE, [BOX])
    values = np.zeros(SHAPE, np.float32)
    values[10:50, 20:60] = 1.0  # exactly the box
    values[80:90, 150:190] = 0.5  # 400 pixels of weaker evidence elsewhere
    values[0, 0] = -5.0  # counter-evidence is not evidence
    assert pointing_game(values, mask)
    assert mass_share(values, mask) == pytest.approx(1600 / (1600 + 200))
    assert thresholded_iou(values, mask, 0.2) == pytest.approx(1600 / (1600 + 400))
    assert thresholded_iou(values, mask, 0.6) == pytest.approx(1.0)
    values[95, 195] = 2.0
    assert not pointing_game(values, mask)
    assert mass_share(np.zeros(SHAPE), mask) == 0.0 and thresholded_iou(np.zeros(SHAPE), mask) == 0.0


def test_score_maps_table_has_a_uniform_baseline():
    mask = boxes_mask(SHAPE, [BOX])
    inside = np.zeros(SHAPE, np.float32)
    inside[30, 40] = 1.0
    lungs = np.zeros(SHAPE, bool)
    lungs[:, :100] = True
    table = score_maps([({"crm": inside}, mask, lungs)] * 3, model="m", dataset="d")
    rows = {row.method: row for row in table.rows}
    assert rows["crm"].images == 3 and rows["crm"].pointing == 1.0 and rows["crm"].mass_in_boxes == 1.0
    assert rows["crm"].mass_in_lungs == 1.0
    area = 1600 / (100 * 200)
    baseline = rows["uniform (baseline)"]
    assert baseline.pointing == pytest.approx(area) and baseline.mass_in_boxes == pytest.approx(area)
    assert baseline.mass_in_lungs == pytest.approx(0.5)
    assert "| crm | 3 | 1.000 |" in table.to_markdown()


def test_voc_boxes_are_scaled_to_the_stored_size(tmp_path):
    xml = tmp_path / "a.xml"
    xml.write_text(
        "<annotation><size><width>2000</width><height>1000</height></size>"
        "<object><bndbox><xmin>100</xmin><ymin>200</ymin><xmax>500</xmax><ymax>600</ymax></bndbox></object>"
        "</annotation>"
    )
    assert read_voc_boxes(xml) == [Box(25.6, 102.4, 128.0, 307.2)]


def test_real_box_files_read():
    data = paths.shared_data_dir()
    if not data.is_dir():
        pytest.skip(f"shared data {data} is absent")
    rsna = read_rsna_boxes(data / "rsna_pneumonia")
    assert len(rsna) == 106  # the Target 1 images
    assert all(0 <= b.x0 < b.x1 <= 512 and 0 <= b.y0 < b.y1 <= 512 for boxes in rsna.values() for b in boxes)
    tbx = read_tbx11k_boxes(data / "tbx11k_tb")
    assert len(tbx) == 599 and all(boxes for boxes in tbx.values())  # tb1199's XML has no box
    assert all(0 <= b.x0 < b.x1 <= 512.5 and 0 <= b.y0 < b.y1 <= 512.5 for boxes in tbx.values() for b in boxes)


def test_lungs_only_studies_leave_the_box_columns_empty():
    lungs = np.zeros(SHAPE, bool)
    lungs[:, :50] = True  # a quarter of the image
    half_in = np.zeros(SHAPE, np.float32)
    half_in[10, 10] = half_in[10, 150] = 1.0
    table = score_maps([({"cam": half_in}, None, lungs)] * 2, model="m", dataset="jsrt_bse")
    rows = {row.method: row for row in table.rows}
    assert rows["cam"].images == 2 and rows["cam"].pointing is None and rows["cam"].iou is None
    assert rows["cam"].mass_in_lungs == pytest.approx(0.5)
    assert rows["uniform (baseline)"].mass_in_lungs == pytest.approx(0.25)
    assert "| cam | 2 | n/a | n/a | n/a | 0.500 |" in table.to_markdown()


@pytest.mark.skipif(not paths.shared_data_dir().is_dir(), reason="needs ../shared/data (JSRT SCR lung masks)")
def test_jsrt_lung_masks_cover_a_plausible_share_of_the_radiograph():
    folder = paths.shared_data_dir() / "jsrt_bse"
    files = read_lung_mask_files(folder)
    assert len(files) == 193
    relative, masks = sorted(files.items())[0]
    mask = lung_mask(masks, (512, 512))
    # Both lungs of an adult PA film: about a quarter to a half of the frame, split by the mediastinum.
    assert 0.2 < mask.mean() < 0.5
    assert mask[256, :200].any() and mask[256, 312:].any() and not mask[256, 250:262].all()
