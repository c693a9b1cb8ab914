"""The piece check of saliency parity (float64 autograd on the ONNX graph's own masks) on a small
ReLU/max-pool net: exact where the graph is right, and it catches a wrong mask or a wrong map."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="export tests need the `ml` extra (torch)")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import numpy_helper  # noqa: E402
from torch import nn  # noqa: E402

from cxrviewer.runtime.providers import SALIENCY_DISABLED_OPTIMIZERS, session_options  # noqa: E402
from cxrviewer.training.export import TOLERANCE, max_rel_diff  # noqa: E402
from cxrviewer.training.onnx_graphs import export_saliency  # noqa: E402
from cxrviewer.training.saliency_parity import piece_check  # noqa: E402


class _Small(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU()
        )
        self.linear = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.body(x).mean(dim=(2, 3)))


def _session(model: bytes) -> ort.InferenceSession:
    return ort.InferenceSession(
        model, session_options(1), providers=["CPUExecutionProvider"],
        disabled_optimizers=list(SALIENCY_DISABLED_OPTIMIZERS),
    )


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    torch.manual_seed(3)
    net = _Small().eval()
    x = np.random.default_rng(0).random((1, 1, 16, 16), dtype=np.float32)
    path = Path(tmp_path_factory.mktemp("piece")) / "small.saliency.onnx"
    graph = export_saliency(net, path, torch.from_numpy(x), 2)
    return net, graph, onnx.load(str(path)), x, np.array([[0.0, 1.0]], np.float32)


def _exact(net, x):
    image = torch.from_numpy(x).double().requires_grad_(True)
    net.double()(image)[0, 1].backward()
    net.float()
    return image.grad.numpy()


def test_graph_on_its_own_piece_is_float64_autograd(small):
    net, graph, model, x, onehot = small
    saliency = _session(model.SerializeToString()).run(["saliency"], {"image": x, "class_onehot": onehot})[0]
    check = piece_check(graph, model, _session, x, onehot, saliency)
    assert check.kinks == 0 and check.worst_margin == 0.0
    # Same piece as float64 here, so the piece figure is the plain one.
    assert check.max_rel_diff == pytest.approx(max_rel_diff(saliency, _exact(net, x)), rel=1e-6)
    assert check.max_rel_diff < 1e-6


def test_a_map_off_by_more_than_rounding_fails(small):
    _, graph, model, x, onehot = small
    saliency = _session(model.SerializeToString()).run(["saliency"], {"image": x, "class_onehot": onehot})[0]
    check = piece_check(graph, model, _session, x, onehot, saliency * np.float32(1.001))
    assert check.max_rel_diff > 9e-4


def test_a_mask_far_from_its_kink_is_not_excused(small):
    """A ReLU-backward threshold moved off zero: masks flip on units far from any kink."""
    _, graph, model, x, onehot = small
    broken = onnx.ModelProto()
    broken.CopyFrom(model)
    compare = next(node for node in broken.graph.node if node.op_type == "LessOrEqual")
    broken.graph.initializer.append(numpy_helper.from_array(np.array(0.05, np.float32), "moved_threshold"))
    compare.input[1] = "moved_threshold"
    saliency = _session(broken.SerializeToString()).run(["saliency"], {"image": x, "class_onehot": onehot})[0]
    check = piece_check(graph, broken, _session, x, onehot, saliency)
    assert check.kinks > 0
    assert check.worst_margin > 100 * TOLERANCE
