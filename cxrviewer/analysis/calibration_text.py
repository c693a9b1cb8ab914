"""Site calibration in words and table cells, the same in `cxrviewer calibrate` and the dialog."""

from __future__ import annotations

import math

from cxrviewer.analysis.calibration import Calibration, Group, OperatingPoint


def saved_note(cal: Calibration, chosen: OperatingPoint, how: str) -> str:
    """The note saved with a site threshold: how it was chosen and what it gave on the films."""
    return (f"threshold {how}: {rates(chosen)}; AUC {cal.auc:.3f} ({cal.auc_ci[0]:.3f}-{cal.auc_ci[1]:.3f}); "
            f"{cal.positives} positive and {cal.films - cal.positives} negative films")


def _ci(value: float, ci: tuple[float, float]) -> str:
    if math.isnan(value):
        return "-"
    return f"{value:.2f} ({ci[0]:.2f}-{ci[1]:.2f})"


def rates(point: OperatingPoint) -> str:
    """"sensitivity 0.92 (0.65-0.99) (11/12), specificity ...": Wilson 95 % intervals and counts."""
    return (f"sensitivity {_ci(point.sensitivity, point.sensitivity_ci)} ({point.true_positives}/"
            f"{point.true_positives + point.false_negatives}), specificity {_ci(point.specificity, point.specificity_ci)} "
            f"({point.true_negatives}/{point.true_negatives + point.false_positives})")


def _num(value: float, digits: int) -> str:
    return "-" if math.isnan(value) else f"{value:.{digits}f}"


TABLE_HEADER = ("threshold", "sensitivity (95% CI)", "specificity (95% CI)", "PPV", "NPV", "tests/1000",
                "found/1000", "missed/1000", "")


def table_rows(rows: list[tuple[str, OperatingPoint]]) -> list[tuple[str, ...]]:
    """The short table's cells as text: one row per (mark, OperatingPoint)."""
    return [(f"{p.threshold:.4f}", _ci(p.sensitivity, p.sensitivity_ci), _ci(p.specificity, p.specificity_ci),
             _num(p.ppv, 3), _num(p.npv, 4), _num(p.tests_per_1000, 1), _num(p.found_per_1000, 1),
             _num(p.missed_per_1000, 1), mark) for mark, p in rows]


def _aligned(header: tuple[str, ...], rows: list[tuple[str, ...]], left: tuple[int, ...]) -> str:
    """Columns padded to their widest cell; numbers right-aligned, the `left` columns left-aligned."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) if i in left else cell.rjust(w)
                               for i, (cell, w) in enumerate(zip(row, widths, strict=True))).rstrip()
                     for row in [header, *rows])


def table_text(rows: list[tuple[str, OperatingPoint]]) -> str:
    return _aligned(TABLE_HEADER, table_rows(rows), (1, 2, 8))


SUBGROUP_HEADER = ("group", "films", "pos", "neg", "AUC (95% CI)", "sensitivity (95% CI)", "specificity (95% CI)")


def subgroup_rows(groups: list[tuple[Group, OperatingPoint]]) -> list[tuple[str, ...]]:
    return [(g.name, str(g.positives + g.negatives), str(g.positives), str(g.negatives),
             _ci(g.auc, g.auc_ci) if g.auc is not None else "- (one outcome only)",
             _ci(p.sensitivity, p.sensitivity_ci), _ci(p.specificity, p.specificity_ci)) for g, p in groups]


def subgroup_text(groups: list[tuple[Group, OperatingPoint]]) -> str:
    return _aligned(SUBGROUP_HEADER, subgroup_rows(groups), (0, 4, 5, 6))
