"""PyTorch architectures from the source papers. Importing this package imports torch."""
