"""Reading-room interaction cost on a 2048² study, through the real main window (offscreen Qt):
open-to-first-pixels, open-to-all-layers, and slider steps with three overlay layers, the LUT path
side by side with recomposing the view in numpy. Prints tables; not a test.

    .venv/bin/python bench/interaction.py [--size 2048] [--steps 41]

The study is the project's synthetic phantom drawn at size² (12-bit DICOM). The models are tiny
random-weight ones (tests/pipeline_models.py: tb-net 64² gate and classifier, U-Net 256² lungs and
lesions, AE-BS bone suppression) exported to a temporary folder: their outputs are meaningless, and
the open-to-all-layers time is that of these small models, not of the shipped ones. The rendering
timings do not depend on what the maps show.

Wall times on a shared machine include waiting for a core; the step's CPU time (this process) is
printed beside them. A slider step is timed twice: "update" is the slider's value change up to pyqtgraph holding the new
indexed image (stack → 256-entry LUT → QImage colour table), and "repaint" is one synchronous paint
of the canvas viewport (Qt drawing the base and every visible layer scaled to the viewport).
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import numpy as np  # noqa: E402

TARGET_MS = 16.0
VIEWER = "viewer"
LAYERS_SHOWN = ("gradcam", "crm", "tb_lesions")  # three layers; the lesions carry their contour
LAYERS_AWAITED = ("gradcam", "crm", "tb_lesions", "lung_outline", "bones")


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def wait_until(app, condition, timeout_s: float) -> bool:
    deadline = time.perf_counter() + timeout_s
    while not condition():
        if time.perf_counter() > deadline:
            return False
        app.processEvents()
        time.sleep(0.002)
    return True


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def slider_steps(app, window, slider, positions, repaint) -> tuple[list[float], list[float], list[float]]:
    """Per step: update wall ms, repaint wall ms, and the whole step's CPU ms (this process)."""
    update_ms, paint_ms, cpu_ms = [], [], []
    for position in positions:
        cpu = time.process_time()
        start = time.perf_counter()
        slider.setValue(position)
        for item in window.layers.overlays.items.values():
            if item.isVisible() and item._renderRequired:
                item.render()  # what pyqtgraph does at the next paint: the LUT becomes a colour table
        middle = time.perf_counter()
        repaint()
        end = time.perf_counter()
        cpu_ms.append((time.process_time() - cpu) * 1000)
        update_ms.append((middle - start) * 1000)
        paint_ms.append((end - middle) * 1000)
    return update_ms, paint_ms, cpu_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--steps", type=int, default=31, help="slider steps per control and item kind")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for all layers")
    parser.add_argument("--shipped", action="store_true",
                        help="open-to-all-layers with the shipped models (models/) on a real chest film "
                             "brought to size² (the NIH DICOM in ../shared/data), then the slider steps")
    args = parser.parse_args()
    if args.shipped:
        open_with_shipped_models(args)
        return

    import torch

    torch.set_num_threads(2)
    from pipeline_models import export_pipeline_models
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from cxrviewer.core.phantom import PhantomSpec, write_demo_dicom

    work = Path(tempfile.mkdtemp(prefix="cxr-bench-interaction-"))
    atexit.register(shutil.rmtree, work, ignore_errors=True)  # models and a 2048² study: ~100 MB a run
    models = export_pipeline_models(work / "models", work)
    os.environ["CXRVIEWER_MODELS"] = str(models)
    study_path = work / "phantom.dcm"
    write_demo_dicom(study_path, PhantomSpec(rows=args.size, columns=args.size))

    from cxrviewer.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    window = MainWindow(settings=QSettings(str(work / "settings.ini"), QSettings.Format.IniFormat))
    window.resize(1400, 900)
    window.show()
    app.processEvents()
    viewport = window.canvas.viewport()
    arrivals: dict[str, float] = {}
    window.analysis.result_ready.connect(
        lambda study, kind, key, payload: arrivals.setdefault(kind, time.perf_counter()))

    start = time.perf_counter()
    window.open_paths([study_path], remember=False)
    shown = wait_until(app, lambda: window.canvas.displayed_image() is not None, 120)
    viewport.repaint()
    first_pixels = time.perf_counter() - start
    controller = window.layers
    all_layers = wait_until(app, lambda: all(k in controller.raw for k in LAYERS_AWAITED), args.timeout)
    for kind in LAYERS_SHOWN:
        window.layer_panel.controls[kind].visible.setChecked(True)
    app.processEvents()
    viewport.repaint()
    open_to_layers = time.perf_counter() - start

    print(f"study: synthetic phantom {args.size}×{args.size}, 12-bit DICOM; models: tiny random-weight "
          f"(tests/pipeline_models.py) in {models}; provider {window.analysis.provider}; "
          f"canvas viewport {viewport.width()}×{viewport.height()}; torch threads 2 (export only)")
    print()
    print("| event | seconds after open |")
    print("| --- | ---: |")
    print(f"| first pixels on screen | {first_pixels:.2f} |" if shown else "| first pixels | not shown |")
    for kind, when in sorted(arrivals.items(), key=lambda item: item[1]):
        print(f"| result '{kind}' arrived | {when - start:.2f} |")
    missing = [k for k in LAYERS_AWAITED if k not in controller.raw]
    layers_text = f"{open_to_layers:.2f}" if all_layers else f"timed out; missing {', '.join(missing)}"
    print(f"| all layers drawn ({', '.join(LAYERS_AWAITED)}) | {layers_text} |")
    print()

    slider_tables(app, window, args)
    window.close()


def slider_tables(app, window, args) -> None:
    """Slider steps with LAYERS_SHOWN visible, the viewer's LUT items beside plain pyqtgraph's, and a
    repaint with nothing changed; then the numpy recomposition they replace. Prints the tables."""
    import pyqtgraph as pg

    from cxrviewer.core.display.compose import compose, layer
    from cxrviewer.gui.overlays import LutImageItem

    paint_modes = {VIEWER: LutImageItem.render, "plain pyqtgraph": pg.ImageItem.render}
    controller, viewport = window.layers, window.canvas.viewport()
    for kind in LAYERS_SHOWN:
        window.layer_panel.controls[kind].visible.setChecked(True)
    app.processEvents()
    viewport.repaint()
    drawn = [k for k in LAYERS_SHOWN if k in controller.overlays.drawn]
    if len(drawn) < len(LAYERS_SHOWN):
        print(f"slider steps skipped: only {drawn} have maps")
        return
    controls = window.layer_panel.controls
    sliders = {"Grad-CAM threshold": controls["gradcam"].threshold, "Grad-CAM opacity": controls["gradcam"].opacity,
               "TB lesions threshold (contour on)": controls["tb_lesions"].threshold}
    runs = {}
    # Side by side, interleaved per control so the machine's load hits both alike: the viewer's items
    # (indexed image made premultiplied ARGB once per table change) and pyqtgraph's plain ImageItem
    # (the indexed image converted by Qt at every paint).
    for name, slider in sliders.items():
        for mode in paint_modes:
            LutImageItem.render = paint_modes[mode]
            for item in controller.overlays.items.values():
                item._renderRequired = True
            start_at = 200 if mode == VIEWER else 205
            positions = range(start_at, start_at + args.steps * 10, 10)
            runs[(name, mode)] = slider_steps(app, window, slider, positions, viewport.repaint)
    LutImageItem.render = paint_modes[VIEWER]
    base = window.canvas.displayed_image()
    stack = window.layer_panel.stack
    paint_only = {}  # a repaint with nothing changed (what panning and zooming redo), per item kind
    for mode in paint_modes:
        LutImageItem.render = paint_modes[mode]
        for item in controller.overlays.items.values():
            item._renderRequired = True
        viewport.repaint()
        paint_only[mode] = statistics.median(timed(viewport.repaint) for _ in range(15))
    LutImageItem.render = paint_modes[VIEWER]
    for kind in LAYERS_SHOWN:
        controls[kind].visible.setChecked(False)
    app.processEvents()
    paint_only["base alone"] = statistics.median(timed(viewport.repaint) for _ in range(15))
    for kind in LAYERS_SHOWN:
        controls[kind].visible.setChecked(True)
    numpy_ms = []
    for _ in range(7):
        t0 = time.perf_counter()
        compose(base, [layer(controller.indexed[k], stack[k].style) for k in LAYERS_SHOWN])
        numpy_ms.append((time.perf_counter() - t0) * 1000)
    recompose = statistics.median(numpy_ms)

    print(f"slider steps, {args.steps} per control, three layers shown ({', '.join(LAYERS_SHOWN)}), "
          f"target < {TARGET_MS:g} ms per step")
    print()
    print("| control | items | update median ms | repaint median ms | step median ms | step p90 ms | "
          "step CPU median ms | step / target | numpy recompose / step |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for (name, mode), (update_ms, paint_ms, cpu_ms) in runs.items():
        total = [u + p for u, p in zip(update_ms, paint_ms, strict=True)]
        step = statistics.median(total)
        print(f"| {name} | {mode} | {statistics.median(update_ms):.2f} | {statistics.median(paint_ms):.2f} | "
              f"{step:.2f} | {percentile(total, 90):.2f} | {statistics.median(cpu_ms):.2f} | "
              f"{step / TARGET_MS:.2f}× | {recompose / step:.1f}× |")
    print()
    print("repaint with nothing changed (as in panning and zooming), median ms: " + ", ".join(
        f"{mode} {ms:.2f}" for mode, ms in paint_only.items()) + f" (Qt drawing {args.size}² images into the viewport)")
    print(f"peer: recomposing the view in numpy (compose of the same three layers at {args.size}², "
          f"what a path without LUTs would redo per step): median {recompose:.1f} ms")


def real_film(path: Path, size: int) -> Path:
    """The shared NIH chest DICOM brought to size² (bicubic) as a 16-bit PNG: a real film, so the gate
    accepts it and every finding, map and layer is computed as for a reader's study."""
    import PIL.Image

    from cxrviewer.core.io import read_image

    source = ROOT.parent / "shared" / "data" / "dicom" / "nih_cxr14_DX_nofinding_implicitLE_mono2.dcm"
    pixels = read_image(source).pixels
    film = PIL.Image.fromarray(pixels.astype(np.float32), mode="F").resize((size, size), PIL.Image.BICUBIC)
    values = np.clip(np.asarray(film), 0, 1) * 65535
    PIL.Image.fromarray(np.rint(values).astype(np.uint16)).save(path)
    return path


def open_with_shipped_models(args) -> None:
    """Open a real 2048² film with the shipped models and time every result up to the last layer: the
    gate, each classifier, the lesion models, lungs, soft tissue, and the maps the window asks for by
    default. Counts each model's forward passes (`backend.classify`, `backend.transform`) on the way."""
    from collections import Counter

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from cxrviewer.runtime.onnx_backend import OnnxBackend

    work = Path(tempfile.mkdtemp(prefix="cxr-bench-shipped-"))
    atexit.register(shutil.rmtree, work, ignore_errors=True)
    os.environ["CXRVIEWER_MODELS"] = str(ROOT / "models")
    study_path = real_film(work / "film.png", args.size)
    forward_passes: Counter[str] = Counter()
    transforms: Counter[str] = Counter()
    classify, transform = OnnxBackend.classify, OnnxBackend.transform

    def counted(self, x):
        forward_passes[self.card.name] += len(x)
        return classify(self, x)

    def counted_transform(self, image):
        transforms[self.card.name] += 1
        return transform(self, image)

    OnnxBackend.classify, OnnxBackend.transform = counted, counted_transform
    from cxrviewer.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    window = MainWindow(settings=QSettings(str(work / "settings.ini"), QSettings.Format.IniFormat))
    window.resize(1920, 1080)
    window.show()
    app.processEvents()
    arrivals: dict[str, float] = {}
    window.analysis.result_ready.connect(
        lambda study, kind, key, payload: arrivals.setdefault(f"{kind} {key}", time.perf_counter()))
    cpu, start = time.process_time(), time.perf_counter()
    window.open_paths([study_path], remember=False)
    wait_until(app, lambda: window.canvas.displayed_image() is not None, 120)
    first_pixels = time.perf_counter() - start
    done = wait_until(app, lambda: any(k.startswith("maps") for k in arrivals) and not window.analysis.busy,
                      args.timeout)
    app.processEvents()
    window.canvas.viewport().repaint()
    total, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(f"study: NIH DX film brought to {args.size}×{args.size} (16-bit PNG); models: shipped ({ROOT / 'models'}); "
          f"provider {window.analysis.provider}")
    print()
    print("| event | seconds after open |")
    print("| --- | ---: |")
    print(f"| first pixels on screen | {first_pixels:.2f} |")
    for kind, when in sorted(arrivals.items(), key=lambda item: item[1]):
        print(f"| result {kind} | {when - start:.2f} |")
    print(f"| **all layers and maps drawn** | **{total:.2f}**{'' if done else ' (timed out)'} |")
    print(f"| process CPU seconds over the same span | {cpu:.2f} |")
    print()
    print("classifier forward passes (backend.classify images) per model: " +
          ", ".join(f"{name} {n}" for name, n in sorted(forward_passes.items())))
    print("image-model runs (backend.transform) per model: " +
          ", ".join(f"{name} {n}" for name, n in sorted(transforms.items())))
    print("(both include the worklist's triage of the opened file, which runs the gate, classifiers and "
          "lesion models in its own thread; a model's known-answer check is remembered on disk)")
    print()
    slider_tables(app, window, args)
    window.close()


if __name__ == "__main__":
    main()
