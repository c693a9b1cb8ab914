"""The status bar: cursor position in pixels and mm, the value under it and the shown layers' map
values there, the window, the zoom, the analysis's progress and where the models run (CPU or CUDA)."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar

from cxrviewer.core.image import Image
from cxrviewer.core.spacing_check import spacing_doubt
from cxrviewer.core.viewstate import ViewState
from cxrviewer.gui.canvas import Probe
from cxrviewer.runtime.providers import provider_choice, provider_label

NETWORK_ERROR_STYLE = "color: rgb(230, 80, 80);"


def position_text(probe: Probe, image: Image) -> str:
    text = f"x {probe.column}  y {probe.row} px"
    spacing = image.meta.pixel_spacing_mm
    if spacing is not None:
        # The centre of the pixel, as the ruler measures between points.
        x_mm, y_mm = (probe.column + 0.5) * spacing[1], (probe.row + 0.5) * spacing[0]
        where = " at detector" if image.meta.spacing_is_at_detector else ""
        doubt = spacing_doubt(image.meta)
        text += f"  ({x_mm:.1f}, {y_mm:.1f} mm{where}{'; ' + doubt if doubt else ''})"
    return text


def window_text(state: ViewState, image: Image) -> str:
    if state.voi_lut_index is not None:
        lut = image.meta.voi_luts[state.voi_lut_index]
        text = f"VOI LUT {state.voi_lut_index + 1}" + (f" ({lut.name})" if lut.name else "")
    else:
        text = f"C {state.window.center:g}  W {state.window.width:g}"
        if state.window.function != "LINEAR":
            text += f" {state.window.function}"
    return text + ("  inverted" if state.invert else "")


class ViewerStatusBar(QStatusBar):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.position = QLabel()
        self.value = QLabel()
        self.layer_values = QLabel()
        self.layer_values.setToolTip("Each shown layer's map value under the cursor, on the scale of its colour bar")
        self.window = QLabel()
        self.zoom = QLabel()
        self.analysis = QProgressBar(maximumWidth=120, textVisible=True, visible=False)
        self.analysis.setFormat("analysis %v/%m")
        self.provider = QLabel()
        self.network = QLabel(visible=False)
        for label in (self.position, self.value, self.layer_values, self.window, self.zoom, self.analysis,
                      self.provider, self.network):
            self.addPermanentWidget(label)

    def show_probe(self, probe: Probe | None, image: Image | None) -> None:
        if probe is None or image is None:
            self.position.setText("")
            self.value.setText("")
            return
        self.position.setText(position_text(probe, image))
        self.value.setText(f"value {probe.modality_value:g} → shown {probe.shown:.3f}")

    def show_layer_values(self, values: list[tuple[str, float]]) -> None:
        """(layer name, its map's value) under the cursor, for each layer drawn."""
        self.layer_values.setText("  ".join(f"{name} {value:.3g}" for name, value in values))

    def show_view(self, state: ViewState | None, image: Image | None) -> None:
        if state is None or image is None:
            self.window.setText("")
            self.zoom.setText("")
            return
        self.window.setText(window_text(state, image))
        self.zoom.setText(f"zoom {state.zoom * 100:.0f}%")

    def show_analysis(self, done: int, total: int) -> None:
        """The shown study's analysis steps: a bar while some remain, hidden once all are done."""
        self.analysis.setRange(0, max(total, 1))
        self.analysis.setValue(done)
        self.analysis.setVisible(done < total)

    def show_provider(self, provider: str) -> None:
        """Where the models run: "CPU" or "CUDA"; the tooltip says why (no driver, no CUDA provider, forced)."""
        self.provider.setText(f"models on {provider}")
        choice = provider_choice()
        reason = choice.reason
        if provider != provider_label(choice.providers):
            # CUDA was chosen, but ONNX Runtime fell back: typically a CUDA or cuDNN library is missing.
            reason = (f"{reason}; but ONNX Runtime could not start the model there "
                      "(its log names the missing library; docs/packaging.md, GPU)")
        self.provider.setToolTip(f"The ONNX Runtime execution provider the last model ran on.\n{reason}")

    def show_network(self, text: str, error: bool) -> None:
        """The storage service: "receiving as AET on port N", why it is not (in red), or hidden ("")."""
        self.network.setText(text)
        self.network.setToolTip(text)
        self.network.setStyleSheet(NETWORK_ERROR_STYLE if error else "")
        self.network.setVisible(bool(text))
