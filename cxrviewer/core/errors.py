"""One error hierarchy for everything a user can cause.

Every message names the file or model concerned and what is wrong with it, so the reader can act on
it without a traceback.
"""

from __future__ import annotations

from pathlib import Path


class CxrError(Exception):
    """Base of every error a user can cause (bad file, bad model, bad configuration)."""


class StudyError(CxrError):
    """A study (file or folder) could not be read. The message starts with the path."""

    def __init__(self, path: str | Path, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class EmptyFileError(StudyError):
    """The file has no bytes."""


class NotAnImageError(StudyError):
    """The file is neither DICOM nor a raster image format we read."""


class TruncatedFileError(StudyError):
    """The file ends before its pixel data does."""


class NoPixelDataError(StudyError):
    """A DICOM file without an image in it (a report, a structured document, a DICOMDIR)."""


class UnsupportedFormatError(StudyError):
    """A transfer syntax, photometric interpretation or bit depth we cannot decode."""


class ImageTooLargeError(StudyError):
    """Dimensions are absurd or above the user's megapixel limit; refused before allocating."""


class ModelError(CxrError):
    """A model could not be used. The message starts with the model's name or card path."""

    def __init__(self, model: str | Path, problem: str):
        self.model = str(model)
        self.problem = problem
        super().__init__(f"model {self.model}: {problem}")


class ConfigError(CxrError):
    """A training or analysis configuration is invalid; the message names the setting."""
