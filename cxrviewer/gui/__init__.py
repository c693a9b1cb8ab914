"""The viewer, in Qt (PySide6, pyqtgraph): the main window; the canvas and its overlay layers; the
layer, findings and reading panels; the worklist, triaged in the background; exports; the
calibration and training dialogs (training runs in a child process); and the workers that turn
plain callbacks into signals. It calls `analysis` and `runtime`, and imports
neither torch nor onnxruntime nor a command (tests/test_import_rules.py)."""
