"""The DICOM tag panel keeps every value inside the panel (issue 20: values ran off its edge)."""

from __future__ import annotations

from cxrviewer.gui.tag_browser import NAME_SHARE_MAX, TagBrowser

LONG = "1.2.826.0.1.3680043.8.498." + "1234567890" * 12
TAGS = (("(0008,0018)", "SOP Instance UID", "UI", LONG),
        ("(0018,1030)", "Protocol Name with a very long private description indeed", "LO", "CHEST PA"),
        ("(0010,0010)", "Patient's Name", "PN", "DOE^JANE"))


def test_long_values_are_cut_inside_the_panel_with_the_whole_value_in_the_tooltip(qtbot):
    browser = TagBrowser()
    qtbot.addWidget(browser)
    browser.resize(320, 300)
    browser.show()
    browser.show_tags(TAGS)
    qtbot.waitExposed(browser)
    table = browser.table
    table.viewport().resize(table.viewport().size())  # let the layout settle
    header = table.horizontalHeader()
    right_edge = header.sectionPosition(3) + header.sectionSize(3)
    assert right_edge <= table.viewport().width()  # the value column ends at the panel's edge
    assert table.columnWidth(1) <= NAME_SHARE_MAX * table.viewport().width() + 1
    assert table.item(0, 3).toolTip() == LONG and table.item(1, 1).toolTip() == TAGS[1][1]
    browser.filter.setText("1234567890")  # filtering still searches the whole value
    assert browser.visible_rows() == 1
