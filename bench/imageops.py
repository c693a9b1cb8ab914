"""The viewer's numpy image steps (core.imageops) against cv2, side by side, one thread each.

    .venv/bin/python bench/imageops.py

The sizes are the viewer's: radiographs shrunk to a model input or a bone-suppression working size,
a model map enlarged back onto a radiograph, a feature grid placed on the model input; the contrast
steps at model size; the lung mask's components, dilation and seam distance and a contour's erosion
at radiograph size. Best of 5 runs; the last column is the largest difference of the results.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import cv2
import numpy as np

from cxrviewer.core.imageops.contrast import clahe, equalize_hist, gaussian_blur_u8
from cxrviewer.core.imageops.morphology import connected_components, dilate, distance_to_background, erode
from cxrviewer.core.imageops.resample import resample_affine, resize

FLAGS = {"area": cv2.INTER_AREA, "linear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC, "nearest": cv2.INTER_NEAREST}
RESIZES = [
    ((2048, 2048), (256, 256), "area"),
    ((2048, 2048), (224, 224), "area"),
    ((2500, 2048), (512, 419), "area"),
    ((1000, 300), (512, 512), "area"),
    ((224, 224), (2048, 2048), "linear"),
    ((512, 419), (2500, 2048), "cubic"),
    ((7, 7), (224, 224), "nearest"),
]
AFFINES = [
    ((7, 7), (224, 224), [[7 / 224, 0, 3.5 / 224 - 0.5], [0, 7 / 224, 3.5 / 224 - 0.5]]),
    ((224, 224), (2048, 2048), [[0.109375, 0, -0.4453], [0, 0.109375, -0.4453]]),
    ((224, 224), (2500, 2048), [[0.1093, 0, -3.2], [0, 0.0897, 8.7]]),
]


def best_ms(run: Callable[..., np.ndarray], *args: object, repeats: int = 5) -> tuple[float, np.ndarray]:
    """(best time in ms, result) of run(*args)."""
    result = run(*args)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(*args)
        times.append(time.perf_counter() - start)
    return 1e3 * min(times), result


def cv2_warp(image: np.ndarray, matrix: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    return cv2.warpAffine(image, matrix, shape[::-1], flags=flags, borderMode=cv2.BORDER_REPLICATE)


def row(name: str, ours: tuple[float, np.ndarray], theirs: tuple[float, np.ndarray]) -> str:
    diff = float(np.abs(ours[1].astype(np.float64) - theirs[1].astype(np.float64)).max())
    return f"{name:44s} {ours[0]:9.2f} {theirs[0]:8.2f} {ours[0] / theirs[0]:6.1f} {diff:11.2e}"


def main() -> None:
    cv2.setNumThreads(1)
    rng = np.random.default_rng(0)
    print(f"{'operation':44s} {'numpy ms':>9s} {'cv2 ms':>8s} {'ratio':>6s} {'max |diff|':>11s}")
    for source, target, method in RESIZES:
        image = rng.random(source, dtype=np.float32)
        ours = best_ms(resize, image, target, method)
        theirs = best_ms(cv2.resize, image, target[::-1], None, 0, 0, FLAGS[method])
        print(row(f"resize {method} {source} -> {target}", ours, theirs))
    for source, target, matrix in AFFINES:
        image, m = rng.random(source, dtype=np.float32), np.array(matrix)
        ours = best_ms(resample_affine, image, m, target)
        print(row(f"affine linear {source} -> {target}", ours, best_ms(cv2_warp, image, m, target)))
    contrast_steps(rng)
    mask_steps()


def contrast_steps(rng: np.random.Generator) -> None:
    """The model inputs' steps: lungs-unet's 16-bit CLAHE at 256², the classifiers' histeq_blur at 224²."""
    film = resize(rng.random((40, 40), dtype=np.float32), (256, 256), "cubic")
    stored = np.round(np.clip(film, 0, 1) * 65535).astype(np.uint16)
    ours = best_ms(clahe, stored, 2.0, 8)
    print(row("clahe uint16 256² (2.0, 8x8)", ours, best_ms(cv2.createCLAHE(2.0, (8, 8)).apply, stored)))
    grey = np.round(np.clip(film[:224, :224], 0, 1) * 255).astype(np.uint8)
    print(row("equalize_hist uint8 224²", best_ms(equalize_hist, grey), best_ms(cv2.equalizeHist, grey)))
    ours = best_ms(gaussian_blur_u8, grey, 5)
    print(row("gaussian 5x5 uint8 224²", ours, best_ms(cv2.GaussianBlur, grey, (5, 5), 0)))


def lungs_mask(size: int) -> np.ndarray:
    """(size, size) bool: two lung-shaped ellipses, as a lung mask on a radiograph."""
    y, x = np.mgrid[0:size, 0:size] / size
    return (((x - 0.3) / 0.16) ** 2 + ((y - 0.45) / 0.3) ** 2 < 1) | (((x - 0.7) / 0.16) ** 2 + ((y - 0.45) / 0.3) ** 2 < 1)


def mask_steps() -> None:
    """core.lung_mask (components, 5x5 dilation), core.soft_tissue (the seam's distance, 0.03 of the
    width) and core.display.compose's contour (3x3 erosion), on a 2048² lung mask."""
    mask = lungs_mask(2048)
    as_u8 = mask.astype(np.uint8)
    ours = best_ms(lambda m: connected_components(m)[0], mask)
    theirs = best_ms(lambda m: cv2.connectedComponentsWithStats(m, connectivity=8)[1], as_u8)
    print(row("connected components 2048²", ours, theirs))
    box = np.ones((5, 5), np.uint8)
    print(row("dilate 5x5 2048²", best_ms(dilate, as_u8, 5), best_ms(cv2.dilate, as_u8, box)))
    ours = best_ms(erode, as_u8, 3)
    print(row("erode 3x3 2048²", ours, best_ms(cv2.erode, as_u8, np.ones((3, 3), np.uint8))))
    limit = 0.03 * 2048
    ours = best_ms(lambda m: np.minimum(distance_to_background(m, limit), limit), mask)
    # The edge counts as lung (core.soft_tissue): cv2 measured on a mask padded with lung.
    padded = np.pad(as_u8, 1, constant_values=1)
    theirs = best_ms(lambda m: np.minimum(cv2.distanceTransform(m, cv2.DIST_L2, cv2.DIST_MASK_PRECISE),
                                          limit)[1:-1, 1:-1], padded)
    print(row(f"distance to background (<= {limit:.0f} px) 2048²", ours, theirs))


if __name__ == "__main__":
    main()
