"""The viewer's numpy resampling (core.imageops.resample) against cv2, side by side, one thread each.

    .venv/bin/python bench/resample.py

The sizes are the viewer's: radiographs shrunk to a model input or a bone-suppression working size,
a model map enlarged back onto a radiograph, a feature grid placed on the model input. Best of 5 runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import cv2
import numpy as np

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
    diff = float(np.abs(ours[1] - theirs[1]).max())
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


if __name__ == "__main__":
    main()
