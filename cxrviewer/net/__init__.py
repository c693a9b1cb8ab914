"""The reading room's network (issue 19): receive studies (storage SCP), query and retrieve from a PACS
(C-FIND, C-MOVE, C-GET; QIDO-RS, WADO-RS), and send results back (C-STORE, STOW-RS) through an outbox
that survives faults. pynetdicom and dicomweb-client; no Qt. The DICOM objects sent (SR, SEG, SC) are
built in `core.export`; what goes in them comes from `analysis.dicom_results`.
"""

import logging


def quiet_library_logs(verbose: bool = False) -> None:
    """pynetdicom logs every DIMSE message at INFO; a command shows our own lines unless -v asks for
    everything."""
    logging.getLogger("pynetdicom").setLevel(logging.DEBUG if verbose else logging.WARNING)
    logging.getLogger("dicomweb_client").setLevel(logging.DEBUG if verbose else logging.WARNING)
