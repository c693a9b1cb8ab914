"""Regenerate the embedded demo study, resources/demo/demo_chest_pa.dcm, from the phantom code.

Usage: python scripts/make_demo_study.py [OUT.dcm]. Deterministic: the same code gives the same bytes.
"""

import sys
from pathlib import Path

from cxrviewer.core.phantom import write_demo_dicom
from cxrviewer.paths import demo_study

out = Path(sys.argv[1]) if len(sys.argv) > 1 else demo_study()
out.parent.mkdir(parents=True, exist_ok=True)
write_demo_dicom(out)
print(f"wrote {out}")
