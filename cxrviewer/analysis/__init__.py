"""The pipeline shared by the GUI and the command line: study → predictions, maps and their scores,
through the one model loader (`findings.installed_model`: signature, shapes, known answer). No Qt."""
