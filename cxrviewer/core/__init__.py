"""Pure data and maths: numpy, pydicom, opencv. No Qt, no torch, no onnxruntime (tests enforce it)."""
