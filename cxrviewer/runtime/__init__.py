"""Model backends behind one protocol: ONNX Runtime (GPU or CPU) and PyTorch (imported lazily)."""
