"""The screenshot of studies received over DICOM in the viewer's worklist (README, docs/network.md):
the real window at 1920×1080 with the shipped models, the reader's film on screen (a TBX11K TB film
opened from a folder); the storage service on (network settings in a temporary file: our AE title on
a free port, XRAY1 allowed); an X-ray unit (a pynetdicom SCU here) sends the shared chest DICOMs and one
film in MPEG-2, which no decoder here reads. The received films are triaged behind the shown one; the
MPEG-2 film's row says why it cannot be shown; the status bar says the service is receiving.

    xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python scripts/received_screenshot.py [--out docs/received-study.png]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication, QDockWidget

from cxrviewer import paths

sys.path.insert(0, str(paths.install_root() / "tests" / "network"))
from orthanc_support import MODALITY, OUR_AET, free_port, read_shared, shared_dicoms  # noqa: E402
from screenshot_support import wait  # noqa: E402

SHOWN = "tbx11k_tb/images/tb0018.jpg"
MPEG2 = "1.2.840.10008.1.2.4.100"
WORKLIST_WIDTH = 1230




def send(datasets, port: int) -> None:
    from pynetdicom import AE

    ae = AE(ae_title=MODALITY)
    for ds in datasets:
        ae.add_requested_context(ds.SOPClassUID, [ds.file_meta.TransferSyntaxUID])
    assoc = ae.associate("127.0.0.1", port, ae_title=OUR_AET)
    if not assoc.is_established:
        raise RuntimeError(f"the viewer's storage service on port {port} refused the association")
    statuses = [int(assoc.send_c_store(ds).Status) for ds in datasets]
    assoc.release()
    if any(statuses):
        raise RuntimeError(f"C-STORE statuses {statuses}")


def mpeg2_film():
    from pydicom.encaps import encapsulate
    from pydicom.uid import generate_uid

    ds = read_shared(shared_dicoms()[-1])
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.PixelData = encapsulate([b"\x00\x00\x01\xb3 not really MPEG-2 " * 8])
    ds.file_meta.TransferSyntaxUID = MPEG2
    return ds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=paths.install_root() / "docs" / "received-study.png")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        os.environ["CXRVIEWER_NETWORK_SETTINGS"] = str(scratch / "network-settings.json")
        os.environ["CXRVIEWER_SITE_SETTINGS"] = str(scratch / "site" / "site-settings.json")
        from cxrviewer.net.settings import AllowedSender, NetworkSettings, save_network_settings

        port = free_port()
        save_network_settings(NetworkSettings(OUR_AET, port, str(scratch / "received"),
                                              (AllowedSender(MODALITY, "127.0.0.1"),), receive_in_viewer=True))
        app = QApplication(sys.argv[:1])
        from cxrviewer.gui.main_window import MainWindow

        reading = scratch / "reading"
        reading.mkdir()
        shutil.copy(paths.shared_data_dir() / SHOWN, reading / Path(SHOWN).name)
        window = MainWindow(settings=QSettings(str(scratch / "viewer.ini"), QSettings.Format.IniFormat),
                            user_data=scratch / "user-data")
        window.resize(1920, 1080)
        window.show()
        # The worklist wide enough for the Status column, where the MPEG-2 film's row says why.
        dock = next(d for d in window.findChildren(QDockWidget) if d.objectName() == "Studies")
        window.resizeDocks([dock], [WORKLIST_WIDTH], Qt.Orientation.Horizontal)
        worklist = window.worklist
        window.open_paths([reading], remember=False)
        wait(app, lambda: window.canvas.image is not None and not window.findings_panel.busy)
        films = [read_shared(path) for path in shared_dicoms()]
        send(films[:2], port)
        send([films[2], mpeg2_film()], port)
        wait(app, lambda: len(worklist.model.rows) == 5 and not worklist.busy)
        worklist.view.resizeColumnToContents(worklist.model.column("Status"))  # the reason in full
        app.processEvents()
        window.grab().save(str(args.out))
        window.close()
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
