"""One row per tb_screen run (issue 16): the figures of each run's tb_eval.json side by side.

python scripts/tb_screen_table.py /work/tb-runs/tb-net-plain /work/tb-runs/tb-net-std ...
Columns: the selection rule (the lowest specificity of any validation normal source at the threshold
that reaches 90 % sensitivity on validation TB films); validation (selection data) AUC; Shenzhen held-out AUC and specificity at 90 % sensitivity;
TBX11K held-out TB films against every held-out normal film (other sources: confounded by source);
rates at the operating threshold. Each with its 95 % interval.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def ci(e: dict, key: str) -> str:
    low, high = e[f"{key}_ci95"]
    return f"{e[key]:.3f} ({low:.2f}–{high:.2f})"


def rate(e: dict | None) -> str:
    return "n/a" if e is None else f"{e['value']:.2f} ({e['ci95'][0]:.2f}–{e['ci95'][1]:.2f})"


def row(run: Path) -> str:
    result = json.loads((run / "tb_eval.json").read_text(encoding="utf-8"))
    pairs, rates = result["operating"]["pairs"], result["operating"]["rates"]
    val = next((e for k, e in pairs.items() if "validation" in k), None)
    internal = pairs.get("shenzhen TB vs shenzhen normal (test)")
    pooled = next((e for k, e in pairs.items() if k.startswith("tbx11k TB vs") and "+" in k and "(test)" in k), None)
    val_specs = {k.split()[0]: e for k, e in rates.items() if k.endswith("specificity (val)")}
    worst = min(val_specs.values(), key=lambda e: e["value"]) if val_specs else None
    cells = [run.name, rate(worst), ci(val, "auc") if val else "n/a", ci(internal, "auc") if internal else "n/a",
             ci(internal, "spec_at_90_sens") if internal else "n/a", ci(pooled, "auc") if pooled else "n/a",
             ci(pooled, "spec_at_90_sens") if pooled else "n/a",
             rate(rates.get("tbx11k sensitivity (test)")), rate(rates.get("shenzhen sensitivity (test)")),
             rate(rates.get("shenzhen specificity (test)")), rate(rates.get("jsrt specificity (test)")),
             rate(rates.get("rsna specificity (test)"))]
    return "| " + " | ".join(cells) + " |"


def main(argv: list[str]) -> int:
    print("| run | validation: worst source's specificity at the threshold (selection rule) | validation AUC (TBX11K TB vs OpenIST + RSNA) | Shenzhen test AUC | Shenzhen test spec. at 90 % sens. "
          "| TBX11K test TB vs held-out normals AUC † | same, spec. at 90 % sens. † | at threshold: TBX11K sens. "
          "| Shenzhen sens. | Shenzhen spec. | JSRT spec. | RSNA spec. |")
    print("| --- |" + " ---: |" * 11)
    for arg in argv:
        print(row(Path(arg)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
