"""cxrviewer: a chest X-ray reading workstation that shows the reader what a model sees."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("cxrviewer")
except PackageNotFoundError:  # running from a source tree that was never installed, or frozen
    __version__ = "0.1.0"
