"""Datasets, splits, augmentation, losses, metrics, the training loop and ONNX export. No Qt."""
