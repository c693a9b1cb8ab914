"""Training and export: the run's configuration (`config`, with the torch-free list of
`architectures`), data sources and patient-grouped splits, augmentation, losses, metrics, the
training loop (`run`; DDP through `distributed` and `launch`), checkpoints exported as installed
models (ONNX graphs, parity check, card), evaluation of installed models, and the figures of the
shipped models on held-out and external data. The viewer's training dialog runs it in a child
process (`subprocess_run`). No Qt; what the viewer imports (`architectures`, `config`,
`subprocess_run`) imports no torch."""
