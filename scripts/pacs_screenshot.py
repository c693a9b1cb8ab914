"""The PACS dialog's screenshot for the README and docs/network.md: a real Orthanc (Debian's `orthanc`
and `orthanc-dicomweb`, started as the network tests start it, on free loopback ports with temporary
storage) holds the shared chest DICOMs; the dialog searches it by C-FIND with empty fields and
retrieves one study by C-GET, so the picture shows the results and a per-study outcome.

    xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python scripts/pacs_screenshot.py [--out docs/pacs-dialog.png]

A script of its own rather than a function in scripts/screenshots.py: that one drives the main window,
this one needs no window and a PACS.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from PySide6.QtWidgets import QApplication

from cxrviewer import paths

# Orthanc is started by the network tests' helper, so the script and the tests run the same PACS.
sys.path.insert(0, str(paths.install_root() / "tests" / "network"))
from orthanc_support import ORTHANC_AET, OUR_AET, Orthanc, archive_shared, free_port, orthanc_binary  # noqa: E402
from screenshot_support import wait  # noqa: E402

NIH = "nih_cxr14_DX_nofinding_implicitLE_mono2.dcm"




def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=paths.install_root() / "docs" / "pacs-dialog.png")
    args = parser.parse_args(argv)
    if orthanc_binary() is None:
        print("Orthanc is not installed (Debian: apt-get install orthanc orthanc-dicomweb)", file=sys.stderr)
        return 1
    app = QApplication(sys.argv[:1])
    from cxrviewer.gui.pacs_dialog import PacsDialog
    from cxrviewer.net.settings import NetworkSettings, Peer

    with tempfile.TemporaryDirectory() as scratch:
        our_port = free_port()
        orthanc = Orthanc(Path(scratch), our_port)
        orthanc.start()
        try:
            archived = archive_shared(orthanc)
            pacs = Peer("hospital-pacs", ORTHANC_AET, "127.0.0.1", orthanc.dicom_port, orthanc.dicomweb_url)
            settings = NetworkSettings(OUR_AET, our_port, str(Path(scratch) / "received"), (), (pacs,))
            dialog = PacsDialog(settings=settings)
            dialog.resize(1250, 500)
            dialog.show()
            shown: list[int] = []
            dialog.searched.connect(shown.append)
            dialog.search()
            wait(app, lambda: shown, 60, "the PACS dialog")
            table = dialog.table
            table.selectRow(table.row_of(archived[NIH].StudyInstanceUID))
            finished: list[int] = []
            dialog.retrieval_finished.connect(lambda retrieved, asked: finished.append(retrieved))
            dialog.retrieve()
            wait(app, lambda: finished, 60, "the PACS dialog")
            app.processEvents()
            dialog.grab().save(str(args.out))
            dialog.shutdown()
        finally:
            orthanc.stop()
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
