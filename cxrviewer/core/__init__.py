"""Pure data and maths: numpy, pydicom (with its decoders), safetensors and cryptography; the image
steps are numpy (`core.imageops`), never OpenCV. No Qt, no torch, no onnxruntime, and no other
cxrviewer package but `paths` (tests/test_import_rules.py, tests/test_package_layers.py)."""
