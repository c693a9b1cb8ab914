"""Numpy-only image operations for the viewer path, so the bundle ships without OpenCV."""
