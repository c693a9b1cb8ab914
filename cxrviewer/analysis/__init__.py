"""The one path of a study shared by the viewer, the worklist's triage and the command line: the
installed models loaded and checked once (signature, shapes, known answer), then the gate, each
classifier's finding and explanation maps, the lesion and lung maps and the soft-tissue view; and
what is built on them: site calibration, map localisation on held-out boxes, report readings and
the DICOM results sent to a PACS. Models run through `runtime`; no Qt, no torch, no network."""
