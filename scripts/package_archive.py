"""The end-user installer step for Linux (`make package-archive`): the built bundle as a .tar.gz.

    .venv/bin/python scripts/package_archive.py [--bundle DIR] [--cuda]

Writes dist/<name>-<version>-linux-<arch>.tar.gz: the bundle folder plus `install.sh` (a launcher on
the PATH and a desktop entry, per user or system-wide), the entry's template and an icon drawn from
the demo study. Everything is stored world-readable (the models' cards are written 0600 by
ship_model, and a system-wide install runs as another user). With `--cuda` it also writes
<name>-<version>-linux-<arch>-cuda-provider.tar.gz: ONNX Runtime's CUDA provider library from this
build environment, laid out to unpack over the bundle (docs/packaging.md, "GPU").
"""

from __future__ import annotations

import argparse
import logging
import platform
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import tomllib
from PIL import Image as PILImage

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cxrviewer import paths  # noqa: E402 (the checkout, not an installed copy)
from cxrviewer.core.io import read_image  # noqa: E402

log = logging.getLogger("package_archive")
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
LINUX_FILES = ROOT / "packaging" / "linux"
ICON_SIZE = 256
# gzip level 6: within a few per cent of level 9's size here, at a fraction of its time.
GZIP_LEVEL = 6


def world_readable(info: tarfile.TarInfo) -> tarfile.TarInfo:
    """Owner root, directories and executables 0755, everything else 0644."""
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    executable = info.isdir() or info.mode & 0o111
    info.mode = 0o755 if executable else 0o644
    return info


def draw_icon(out: Path) -> None:
    """The demo phantom, windowed between its 1st and 99th percentiles, as a square grey PNG."""
    pixels = read_image(paths.demo_study()).pixels
    low, high = np.percentile(pixels, (1, 99))
    grey = (np.clip((pixels - low) / max(high - low, 1e-6), 0, 1) * 255).astype(np.uint8)
    side = min(grey.shape)
    top, left = (grey.shape[0] - side) // 2, (grey.shape[1] - side) // 2
    PILImage.fromarray(grey[top:top + side, left:left + side]).resize((ICON_SIZE, ICON_SIZE),
                                                                     PILImage.LANCZOS).save(out)


def write_archive(bundle: Path, out: Path, work: Path) -> None:
    icon = work / "cxrviewer.png"
    draw_icon(icon)
    top = bundle.name
    with tarfile.open(out, "w:gz", compresslevel=GZIP_LEVEL) as tar:
        tar.add(bundle, arcname=top, filter=world_readable)
        for path in (LINUX_FILES / "install.sh", LINUX_FILES / "cxrviewer.desktop.in", icon):
            tar.add(path, arcname=f"{top}/{path.name}", filter=world_readable)


def write_cuda_addon(bundle: Path, out: Path) -> None:
    """The CUDA provider plugin of the onnxruntime this script runs with: the bundle's build environment."""
    import onnxruntime

    library = Path(onnxruntime.__file__).parent / "capi" / "libonnxruntime_providers_cuda.so"
    if not library.is_file():
        raise SystemExit(f"{library} is missing: build with onnxruntime-gpu {onnxruntime.__version__} installed")
    with tarfile.open(out, "w:gz", compresslevel=GZIP_LEVEL) as tar:
        tar.add(library, arcname=f"{bundle.name}/_internal/onnxruntime/capi/{library.name}", filter=world_readable)
    log.info("CUDA add-on for onnxruntime %s: %s", onnxruntime.__version__, out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=ROOT / "dist" / f"{PROJECT['name']}-{PROJECT['version']}")
    parser.add_argument("--cuda", action="store_true", help="also write the CUDA provider add-on archive")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not (args.bundle / PROJECT["name"]).is_file():
        log.error("no bundle at %s: run `make package` first", args.bundle)
        return 1
    stem = f"{args.bundle.name}-linux-{platform.machine()}"
    work = ROOT / "build" / "package-archive"
    work.mkdir(parents=True, exist_ok=True)
    archive = args.bundle.parent / f"{stem}.tar.gz"
    start = time.perf_counter()
    write_archive(args.bundle, archive, work)
    log.info("%s: %.1f MB in %.0f s", archive, archive.stat().st_size / 1e6, time.perf_counter() - start)
    if args.cuda:
        addon = args.bundle.parent / f"{stem}-cuda-provider.tar.gz"
        write_cuda_addon(args.bundle, addon)
        log.info("%s: %.1f MB", addon, addon.stat().st_size / 1e6)
    return 0


if __name__ == "__main__":
    sys.exit(main())
