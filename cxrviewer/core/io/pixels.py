"""Small pixel conversions shared by the DICOM and raster readers."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

# ITU-R BT.601 luma weights: what Pillow's "L" conversion and most viewers use for grey.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def luma(rgb: npt.NDArray[np.generic]) -> npt.NDArray[np.float32]:
    """RGB (H, W, 3) of any numeric dtype, channel order R, G, B → grey (H, W) float32, same units.

    A grey image stored as RGB (all channels equal) comes back exactly, not rounded through weights.
    """
    channels = rgb[..., :3]
    red = channels[..., 0]
    if np.array_equal(red, channels[..., 1]) and np.array_equal(red, channels[..., 2]):
        return red.astype(np.float32)
    return channels.astype(np.float32) @ _LUMA
