"""Qt only: main window, canvas, layer panel, findings, worklist, training dialog, workers."""
