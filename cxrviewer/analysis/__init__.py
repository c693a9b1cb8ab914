"""The pipeline shared by the GUI and the command line: study → predictions, maps and their scores."""
