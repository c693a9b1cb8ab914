"""Pure data and maths that every other layer builds on: study loading (`io`), the display pipeline
(`display`), model input contracts (`preprocess`), explanation maps (`maps`), model cards and their
signatures, the reader's layers and view state as plain models, what is written on the film, study
cautions, exports (`export`) and the site's own settings.

numpy, pydicom (with its decoders), Pillow, highdicom, safetensors and cryptography; the image steps
are numpy (`imageops`), never OpenCV. No Qt, no torch, no onnxruntime, and no other cxrviewer
package but `paths` (tests/test_import_rules.py).
"""
