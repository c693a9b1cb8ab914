"""Generated test radiographs for the training tests (a module of its own: test files import it by a
name no other test folder uses, unlike `conftest`, which every folder has)."""

from __future__ import annotations

import numpy as np


def blob_image(rng: np.random.Generator, positive: bool, size: int = 64) -> np.ndarray:
    """A noisy grey 'radiograph'; positives carry a bright disc, so a tiny net can learn them."""
    img = 0.35 + 0.1 * rng.standard_normal((size, size))
    if positive:
        cy, cx = rng.integers(size // 4, 3 * size // 4, 2)
        yy, xx = np.mgrid[:size, :size]
        img[(yy - cy) ** 2 + (xx - cx) ** 2 < (size // 8) ** 2] += 0.45
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)
