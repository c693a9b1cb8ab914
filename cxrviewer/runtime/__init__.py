"""Running models: the Backend protocol every caller runs a model through (`backend`), the ONNX
Runtime backend (CUDA only when it is really usable, `providers`), and a PyTorch backend for a model
without its ONNX file, imported lazily; finding and loading installed models (`registry`), and
fitting an image to an image-to-image net's working size (`tiling`). No Qt; torch only inside
functions, so the viewer starts without it."""
