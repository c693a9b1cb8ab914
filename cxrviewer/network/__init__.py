"""The reading room's network (issue 19): receive studies (storage SCP), query and retrieve from a PACS
(C-FIND, C-MOVE, C-GET; QIDO-RS, WADO-RS), and send results back (C-STORE, STOW-RS) through an outbox
that survives faults. pynetdicom and dicomweb-client; no Qt. The DICOM objects sent (SR, SEG, SC) are
built in `core.export`; what goes in them comes from `analysis.dicom_results`.
"""
