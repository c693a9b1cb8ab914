"""Smoke test of the built viewer bundle (`make package-test`): run the frozen program, check what it wrote.

    .venv/bin/python scripts/package_smoke.py [--bundle DIR] [--image FILE] [--startup N]

Checks, each on the bundle's own executable with an empty environment's worth of Python (the bundle
carries its own): the layout (no PyTorch, no CUDA provider, the models and the demo study inside),
`--version`, `models` (every shipped card loads, checksums verified), `view FILE --screenshot
--quit-after-load` offscreen (a picture of the window size that is not blank), `analyze FILE --csv`
with every shipped model (the same numbers as the source install's), `report --png --dicom` (a PDF,
a DICOM secondary capture, the same view PNG as the source install's), and `train` (refused with the
full-install message). With `--startup N` (needs a display: run it under `xvfb-run -a`) it also times N
starts of the bundle with its files evicted from the page cache, N warm, and N of the source install:
process start to the window viewable, and to the study shown in it. Exits 1 when any check fails. Never part of pytest: it needs a built bundle.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import tomllib
from PIL import Image as PILImage

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cxrviewer import paths  # noqa: E402 (the checkout, not an installed copy)

log = logging.getLogger("package_smoke")
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
# A JPEG-compressed CR: the bundle must carry the DICOM decoders, not only the models.
DEFAULT_IMAGE = "dicom/siim_pneumothorax_CR_chest_PA_jpegbaseline_mono2.dcm"
WINDOW_SIZE = (1400, 900)
# The bundle runs the same onnxruntime library on the same inputs as the source install.
CSV_TOLERANCE = 1e-5
STEP_TIMEOUT_S = 600


class Checks:
    def __init__(self) -> None:
        self.failed: list[str] = []

    def expect(self, ok: bool, what: str, detail: str = "") -> bool:
        log.info("%s  %s%s", "PASS" if ok else "FAIL", what, f": {detail}" if detail else "")
        if not ok:
            self.failed.append(what)
        return ok


def executable(bundle: Path) -> Path:
    return bundle / (PROJECT["name"] + (".exe" if sys.platform == "win32" else ""))


def run(command: list[str], env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess, float]:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=STEP_TIMEOUT_S,
                          env={**os.environ, **(env or {})})
    elapsed = time.perf_counter() - start
    log.debug("%s -> %d in %.2f s\n%s\n%s", command, done.returncode, elapsed, done.stdout, done.stderr)
    return done, elapsed


def folder_size(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file() and not f.is_symlink())


def report_size(bundle: Path) -> None:
    internal = bundle / "_internal"
    # PyInstaller links some libraries into _internal from their package's folder: count them once.
    parts = sorted(((folder_size(p) if p.is_dir() else p.stat().st_size, p.name) for p in internal.iterdir()
                    if not p.is_symlink()), reverse=True)
    total = folder_size(bundle)
    log.info("bundle %s: %.1f MB (%.1f MiB)", bundle, total / 1e6, total / 2**20)
    for size, name in parts[:10]:
        log.info("  %8.1f MB  _internal/%s", size / 1e6, name)


def check_layout(bundle: Path, checks: Checks) -> None:
    internal = bundle / "_internal"
    checks.expect(executable(bundle).is_file(), "executable present", str(executable(bundle)))
    checks.expect(not (internal / "torch").exists(), "no PyTorch in the bundle")
    opencv = [p.name for p in internal.glob("*") if p.name == "cv2" or p.name.startswith("opencv")]
    checks.expect(not opencv, "no OpenCV in the bundle (the viewer's image steps are numpy)", ", ".join(opencv))
    cuda = list(internal.rglob("*onnxruntime_providers_cuda*"))
    checks.expect(not cuda, "no CUDA provider library (the GPU add-on ships it)", ", ".join(map(str, cuda)))
    checks.expect(sorted(p.name for p in (internal / "models").glob("*")) == viewer_model_files(),
                  "the models' cards and ONNX files bundled, their PyTorch weights not",
                  f"{len(viewer_model_files())} files")
    checks.expect((internal / "resources" / "demo" / "demo_chest_pa.dcm").is_file(), "demo study bundled")


def viewer_model_files() -> list[str]:
    """Every file the shipped cards list except the PyTorch weights (cxrviewer.spec), the cards, and
    their release signatures (core.signing)."""
    names = []
    for card in (ROOT / "models").glob("*.card.json"):
        files = json.loads(card.read_text(encoding="utf-8"))["files"]
        names += [card.name, *(entry["path"] for entry in files if entry["role"] != "weights")]
        signature = card.with_name(card.name.removesuffix(".card.json") + ".signature.json")
        names += [signature.name] if signature.is_file() else []
    return sorted(names)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def csv_difference(frozen: list[dict[str, str]], source: list[dict[str, str]]) -> str:
    """'' when both CSVs say the same (numbers within CSV_TOLERANCE), else the first difference."""
    if [sorted(r) for r in frozen] != [sorted(r) for r in source]:
        return "different columns or rows"
    for a, b in zip(frozen, source, strict=True):
        for key in a:
            x, y = a[key], b[key]
            try:
                same = abs(float(x) - float(y)) <= CSV_TOLERANCE
            except ValueError:
                same = x == y
            if not same:
                return f"{a['model']} {key}: bundle {x!r}, source {y!r}"
    return ""


def check_commands(bundle: Path, image: Path, out: Path, checks: Checks) -> None:
    exe = str(executable(bundle))
    offscreen = {"QT_QPA_PLATFORM": "offscreen"}
    done, elapsed = run([exe, "--version"])
    checks.expect(done.stdout.strip() == f"{PROJECT['name']} {PROJECT['version']}", "--version",
                  f"{done.stdout.strip()!r} in {elapsed:.2f} s")

    done, elapsed = run([exe, "models"])
    names = sorted(p.name.removesuffix(".card.json") for p in (ROOT / "models").glob("*.card.json"))
    rows = {line.split()[0]: line.split() for line in done.stdout.splitlines()[1:] if line.strip()}
    good = [n for n in names if n in rows and "ok" in rows[n] and "signed" in rows[n]]
    checks.expect(done.returncode == 0 and good == names,
                  "models: every shipped model is signed and passes its checks (known answer included)",
                  f"{len(good)}/{len(names)} in {elapsed:.2f} s")

    screenshot = out / "screenshot.png"
    screenshot.unlink(missing_ok=True)
    done, elapsed = run([exe, "view", str(image), "--screenshot", str(screenshot), "--quit-after-load"], offscreen)
    if checks.expect(done.returncode == 0 and screenshot.is_file(), "view --screenshot --quit-after-load",
                     f"exit {done.returncode} in {elapsed:.1f} s"):
        pixels = np.asarray(PILImage.open(screenshot).convert("L"), dtype=np.float32)
        checks.expect(pixels.shape[::-1] == WINDOW_SIZE, "screenshot is the window", f"{pixels.shape[::-1]}")
        # The radiograph fills the canvas: a blank or single-colour window has a spread near 0.
        checks.expect(float(pixels.std()) > 20.0, "screenshot shows an image", f"grey std {pixels.std():.1f}")
    else:
        log.info("%s", done.stderr[-2000:])

    frozen_csv, source_csv = out / "analyze.csv", out / "analyze-source.csv"
    frozen_csv.unlink(missing_ok=True)
    models = [arg for name in names for arg in ("--model", name)]
    done, elapsed = run([exe, "analyze", str(image), *models, "--csv", str(frozen_csv)])
    if checks.expect(done.returncode == 0 and frozen_csv.is_file(), "analyze --csv with every shipped model",
                     f"exit {done.returncode} in {elapsed:.1f} s"):
        rows = read_csv(frozen_csv)
        checks.expect(sorted(r["model"] for r in rows) == names, "one CSV row per model", f"{len(rows)} rows")
        source_run, source_s = run([sys.executable, "-m", "cxrviewer", "analyze", str(image), *models,
                                    "--csv", str(source_csv)])
        if source_run.returncode == 0:
            difference = csv_difference(rows, read_csv(source_csv))
            checks.expect(not difference, "analyze: the bundle's numbers equal the source install's",
                          difference or f"source run {source_s:.1f} s")
    else:
        log.info("%s", done.stderr[-2000:])

    check_report(exe, image, out, checks)

    # A JSON config loads without the `ml` extra, so the refusal comes from the missing torch.
    done, _ = run([exe, "train", "--config", str(ROOT / "examples" / "jsrt_bone_suppression.json"),
                   "--epochs", "1", "--out", str(out / "train")])
    checks.expect(done.returncode == 2 and "needs the full install" in done.stderr,
                  "train refused with the full-install message", done.stderr.strip().splitlines()[-1:][0]
                  if done.stderr.strip() else "no message")


def check_report(exe: str, image: Path, out: Path, checks: Checks) -> None:
    """`report --png --dicom`: Qt's PDF writer, the PNG and DICOM writers, in the bundle and the source
    install; the PNG (composed in numpy) must be the same picture."""
    import pydicom

    written = {}
    for label, command in (("bundle", [exe]), ("source", [sys.executable, "-m", "cxrviewer"])):
        folder = out / f"report-{label}"
        for old in folder.glob("*"):
            old.unlink()
        done, elapsed = run([*command, "report", str(image), "--out", str(folder), "--png", "--dicom"],
                            {"QT_QPA_PLATFORM": "offscreen"})
        written[label] = {suffix: folder / f"{image.stem}.{suffix}" for suffix in ("report.pdf", "view.png", "sc.dcm")}
        if label == "bundle":
            files = written[label]
            ok = done.returncode == 0 and all(f.is_file() for f in files.values())
            if not checks.expect(ok, "report --png --dicom", f"exit {done.returncode} in {elapsed:.1f} s"):
                log.info("%s", done.stderr[-2000:])
                return
            checks.expect(files["report.pdf"].read_bytes()[:5] == b"%PDF-", "report: a PDF",
                          f"{files['report.pdf'].stat().st_size / 1e3:.0f} kB")
            sc = pydicom.dcmread(files["sc.dcm"])
            # Secondary Capture Image Storage and its multi-frame relatives share this root.
            secondary_capture = str(sc.SOPClassUID).startswith("1.2.840.10008.5.1.4.1.1.7")
            checks.expect(secondary_capture and sc.pixel_array.size > 0, "report: a DICOM secondary capture",
                          f"{sc.SOPClassUID} {sc.pixel_array.shape}")
    if all(f.is_file() for f in written["source"].values()):
        frozen_png, source_png = (np.asarray(PILImage.open(written[k]["view.png"])) for k in ("bundle", "source"))
        same = frozen_png.shape == source_png.shape and np.array_equal(frozen_png, source_png)
        checks.expect(same, "report: the bundle's view PNG equals the source install's", f"{frozen_png.shape}")


def viewable_titles() -> list[str]:
    """Names of the top-level windows the X server shows now (map state IsViewable)."""
    tree = subprocess.run(["xwininfo", "-root", "-children"], capture_output=True, text=True).stdout
    titles = []
    for line in tree.splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2 and parts[0].startswith("0x") and parts[1].startswith('"cxrviewer'):
            state = subprocess.run(["xwininfo", "-id", parts[0]], capture_output=True, text=True).stdout
            if "IsViewable" in state:
                titles.append(parts[1])
    return titles


def time_to_window(command: list[str], image: Path, timeout_s: float = 60.0) -> tuple[float, float]:
    """Seconds from process start to a viewable top-level window titled cxrviewer, and to the title
    naming the study (the study shown). Polls the X server every 20 ms; kills the viewer after."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"})
    shown = study = float("nan")
    try:
        while time.perf_counter() - start < timeout_s and process.poll() is None:
            titles = viewable_titles()
            if titles and shown != shown:
                shown = time.perf_counter() - start
            if any(image.name in title for title in titles):
                study = time.perf_counter() - start
                break
            time.sleep(0.02)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
    return shown, study


def evict_from_page_cache(folder: Path) -> None:
    """Drop the cached pages of every file in `folder` (and only those), so the next start reads the
    bundle from disk as after a reboot; the rest of a shared machine's cache is left alone."""
    for file in folder.rglob("*"):
        if file.is_file() and not file.is_symlink():
            descriptor = os.open(file, os.O_RDONLY)
            try:
                os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(descriptor)


def log_times(label: str, times: list[tuple[float, float]]) -> float:
    """Logs the runs; returns the median time to the window shown."""
    shown, study = [t[0] for t in times], [t[1] for t in times]
    log.info("start-up %s: window shown %s s (median %.2f), study shown %s s (median %.2f)", label,
             " ".join(f"{t:.2f}" for t in shown), statistics.median(shown),
             " ".join(f"{t:.2f}" for t in study), statistics.median(study))
    return statistics.median(shown)


def report_startup(bundle: Path, image: Path, repeats: int, checks: Checks) -> None:
    """Bundle from a cold page cache (its files evicted before each start), then warm, then the source
    install warm (its site-packages are shared with whoever else uses the machine: not evicted)."""
    if not os.environ.get("DISPLAY"):
        checks.expect(False, "startup timing needs a display", "run under xvfb-run -a")
        return
    bundle_command = [str(executable(bundle)), "view", str(image)]
    cold = []
    for _ in range(repeats):
        if hasattr(os, "posix_fadvise"):
            evict_from_page_cache(bundle)
        cold.append(time_to_window(bundle_command, image))
    cold_median = log_times("bundle, cold page cache", cold)
    warm_median = log_times("bundle, warm", [time_to_window(bundle_command, image) for _ in range(repeats)])
    log_times("source install, warm", [time_to_window([sys.executable, "-m", "cxrviewer", "view", str(image)], image)
                                       for _ in range(repeats)])
    checks.expect(max(cold_median, warm_median) < 3.0, "bundle window shown within 3 s",
                  f"median {cold_median:.2f} s cold, {warm_median:.2f} s warm")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=ROOT / "dist" / f"{PROJECT['name']}-{PROJECT['version']}")
    parser.add_argument("--image", type=Path, default=None, help=f"a radiograph (default ../shared/data/{DEFAULT_IMAGE})")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "package-test")
    parser.add_argument("--startup", type=int, default=0, metavar="N", help="time N starts (needs a display)")
    parser.add_argument("--skip-commands", action="store_true", help="only the layout and --startup")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every command's output")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s")
    image = args.image or paths.shared_data_dir() / DEFAULT_IMAGE
    if not args.bundle.is_dir():
        log.error("no bundle at %s: run `make package` first", args.bundle)
        return 1
    if not image.is_file():
        log.error("no radiograph at %s: give --image, or put the shared data beside the checkout", image)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    checks = Checks()
    report_size(args.bundle)
    check_layout(args.bundle, checks)
    if not args.skip_commands:
        check_commands(args.bundle, image.resolve(), args.out, checks)
    if args.startup:
        report_startup(args.bundle, image.resolve(), args.startup, checks)
    log.info("%d check(s) failed%s", len(checks.failed), f": {', '.join(checks.failed)}" if checks.failed else "")
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
