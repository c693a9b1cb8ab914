"""ONNX vs PyTorch for every registered architecture at its input size, and saliency vs autograd.

References are the same weights in float64 (see `cxrviewer.training.export`). Logits, features and
image outputs must agree within 1e-4; a saliency map within 1e-4, or, where the network has no
unique derivative (ReLU pre-activations or max-pool ties within float32 rounding of a kink), within
1e-4 of float64 autograd on the graph's own linear piece with every differing choice within 1e-4 of
its kink (`cxrviewer.training.saliency_parity`).
"""

from __future__ import annotations

import numpy as np
import onnx as onnx_proto
import onnxruntime as ort
import pytest
import torch

from cxrviewer import paths
from cxrviewer.nets import ARCHITECTURES
from cxrviewer.runtime.onnx_backend import OnnxBackend
from cxrviewer.runtime.providers import CPU, SALIENCY_DISABLED_OPTIMIZERS, session_options
from cxrviewer.runtime.torch_backend import TorchBackend, build_network
from cxrviewer.training.export import (
    TOLERANCE,
    default_real_images,
    max_rel_diff,
    model_tensor_from_file,
    parity_ok,
)
from cxrviewer.training.onnx_graphs import trace_saliency
from cxrviewer.training.saliency_parity import piece_check

ARCHS = sorted(ARCHITECTURES)


def _saliency_session(model: bytes) -> ort.InferenceSession:
    return ort.InferenceSession(
        model, session_options(2), providers=[CPU], disabled_optimizers=list(SALIENCY_DISABLED_OPTIMIZERS)
    )


def float64_saliency(card, folder, x: np.ndarray, class_index: int) -> np.ndarray:
    net = build_network(card, folder / card.file("weights").path).double()
    image = torch.from_numpy(x).double().requires_grad_(True)
    net(image)[:, class_index].sum().backward()
    return image.grad.numpy()


@pytest.mark.parametrize("arch", ARCHS)
def test_export_records_parity_within_tolerance(exported, arch):
    _, card = exported(arch)
    outputs = {figure.output.split("[")[0] for figure in card.parity}
    assert outputs == ({"logits", "features", "saliency"} if card.is_classifier else {"output"})
    kinds = {figure.inputs.split(":")[0] for figure in card.parity}
    assert kinds == ({"random", "real"} if default_real_images() else {"random"})
    for figure in card.parity:
        if figure.output.startswith("saliency"):
            assert figure.float32_autograd is not None
            assert parity_ok(figure), figure
            if figure.max_rel_diff > TOLERANCE:  # the piece rule, with its figures in the card
                assert figure.same_piece <= TOLERANCE and figure.kink_margin <= TOLERANCE, figure
                assert figure.kinks > 0, figure
        else:
            assert figure.max_rel_diff <= TOLERANCE, figure


@pytest.mark.parametrize("arch", ARCHS)
def test_onnx_and_torch_backends_agree(exported, arch):
    folder, card = exported(arch)
    onnx = OnnxBackend(card, folder, providers=[CPU], intra_op_threads=2)
    eager = TorchBackend(card, folder, threads=2)
    rng = np.random.default_rng(7)
    contract = card.input
    if card.is_classifier:
        x = rng.random((1, contract.channels, contract.height, contract.width), dtype=np.float32)
        (logits, features), (ref_logits, ref_features) = onnx.classify(x), eager.classify(x)
        assert logits.shape == (1, 2) and features.ndim == 4 and features.shape[0] == 1
        assert max_rel_diff(logits, ref_logits) <= TOLERANCE
        assert max_rel_diff(features, ref_features) <= TOLERANCE
        saliency, exact = onnx.saliency(x, 1), float64_saliency(card, folder, x, 1)
        assert saliency.shape == x.shape
        if max_rel_diff(saliency, exact) > TOLERANCE:
            model = onnx_proto.load(str(folder / card.saliency_file))
            net = build_network(card, folder / card.file("weights").path)
            onehot = np.array([[0.0, 1.0]], np.float32)
            piece = piece_check(trace_saliency(net, torch.from_numpy(x), 2), model, _saliency_session, x, onehot, saliency)
            assert piece.max_rel_diff <= TOLERANCE and piece.worst_margin <= TOLERANCE, piece
    else:
        # Not the working size, so tiling (bone suppression) or resizing (segmentation) is exercised.
        image = rng.random((contract.height + 37, contract.width + 21), dtype=np.float32)
        out, ref = onnx.transform(image), eager.transform(image)
        assert out.shape == (len(card.labels), *image.shape)
        assert max_rel_diff(out, ref) <= TOLERANCE


@pytest.mark.skipif(not paths.shared_data_dir().is_dir(), reason="shared data (../shared/data) is absent")
def test_saliency_graph_equals_autograd_on_a_real_radiograph(exported):
    folder, card = exported("tbnet")
    image_file = paths.shared_data_dir() / "jsrt_bse/512_Originals/JPCLN001.png"
    x = model_tensor_from_file(image_file, (1, 512, 512), (0.0, 1.0))
    onnx = OnnxBackend(card, folder, providers=[CPU], intra_op_threads=2)
    eager = TorchBackend(card, folder, threads=2)
    for class_index in (0, 1):
        graph = onnx.saliency(x, class_index)
        exact = float64_saliency(card, folder, x, class_index)
        assert max_rel_diff(graph, exact) <= TOLERANCE
        assert max_rel_diff(graph, eager.saliency(x, class_index)) <= TOLERANCE
    # The two classes' maps differ: the selector really selects.
    assert max_rel_diff(onnx.saliency(x, 0), onnx.saliency(x, 1)) > 0.1
