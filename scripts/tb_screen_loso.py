"""Leave-one-source-out figures of issue 16 (docs/tb-classifier.md): a source seen in training against
the same source left out, on the same films.

python scripts/tb_screen_loso.py ../tb-runs/tb-net-mix-all ../tb-runs/tb-net-loso-tbx11k ...
Needs each run's tb_scores.npz (written by `python -m cxrviewer.training.tb_screen_eval RUN`). For each
left-out source S (the run name's suffix): S's films that the mixed run held out for testing, scored by
both runs: the rate at each run's own threshold (sensitivity for TB, specificity for normals, Wilson
95 % CI) and the AUC of those films against a counterpart neither run trained on (JSRT normals for TB
films; Shenzhen's held-out TB films for normal films), bootstrap 95 % CI.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from cxrviewer.training.metrics import bootstrap_auc, wilson_interval


def load(run: Path) -> dict:
    data = dict(np.load(run / "tb_scores.npz"))
    data["threshold"] = json.loads((run / "tb_eval.json").read_text(encoding="utf-8"))["operating"]["threshold"]
    return data


def main(argv: list[str]) -> int:
    mixed_dir, *loso_dirs = (Path(a) for a in argv)
    mixed = load(mixed_dir)
    print("| source left out | films (held out by the mixed run) | rate at threshold: trained on it | left out | "
          "AUC against the counterpart: trained on it | left out |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for loso_dir in loso_dirs:
        source = loso_dir.name.rsplit("-", 1)[-1]
        loso = load(loso_dir)
        films = (mixed["sources"] == source) & (mixed["roles"] == "test")
        label = int(mixed["labels"][films][0])
        if label == 1:
            other = (mixed["sources"] == "jsrt") & (mixed["labels"] == 0)
            counterpart, kind = "JSRT normals", "sensitivity"
        else:
            other = (mixed["sources"] == "shenzhen") & (mixed["labels"] == 1) & (mixed["roles"] == "test") & (loso["roles"] == "test")
            counterpart, kind = "Shenzhen test TB", "specificity"
        cells = []
        for run in (mixed, loso):
            called = run["scores"][films] >= run["threshold"]
            hits = int(called.sum() if label == 1 else (~called).sum())
            low, high = wilson_interval(hits, int(films.sum()))
            cells.append(f"{kind} {hits / films.sum():.3f} ({low:.3f}–{high:.3f})")
        for run in (mixed, loso):
            chosen = films | other
            y = (run["labels"][chosen] == 1).astype(np.int64)
            auc, low, high = bootstrap_auc(y, run["scores"][chosen])
            cells.append(f"{auc:.3f} ({low:.3f}–{high:.3f})")
        print(f"| {source} | {int(films.sum())} {'TB' if label else 'normal'} vs {int(other.sum())} {counterpart} | "
              + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
