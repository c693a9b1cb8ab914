"""Checkpoint → installed model: ONNX graphs, head and weights, parity check, card, atomic install.

Parity is measured as max|onnx − reference| / max|reference| over each whole output tensor (one
number per output and input): relative to the output's largest magnitude, not element-wise, because
near-zero elements of a saliency map or of a feature map make element-wise ratios meaningless. The
reference is the same network in float64; the saliency graph is compared with float64 autograd's
∂logit_c/∂x. Any figure above the tolerance (1e-4 for float32 ONNX) fails the export, with one
documented exception for saliency, at inputs where the network has no unique derivative:

A ReLU/max-pool network is piecewise linear. At a ReLU pre-activation within float32 rounding of
zero, or a max-pool window whose two largest values are within rounding of each other, float32 and
float64 may land on neighbouring linear pieces, whose gradients differ by a whole path (measured,
random-weight VGG-16 at 224²: 3 of 15 M ReLU units flipped at 8e-8 of their layer's maximum put the
ONNX map 1.3e-2 from float64 autograd; on an 8-bit radiograph 8 max-pool ties put it 5e-2 off, and
PyTorch's own float32 autograd is 1.5e-2 / 9.5e-2 off there). A saliency figure above the tolerance
therefore passes only if (`parity_ok`): the ONNX map agrees within the tolerance with float64
autograd evaluated on the graph's own piece (its masks and argmaxes, read from the graph), and every
choice where that piece differs from float64's is within the tolerance of its kink (relative to the
compared tensor's largest magnitude: the same 1e-4 the forward outputs are held to) — so a wrong
forward value or index still fails. VGG-16 above: 4.6e-7 / 5.3e-7 on the piece, kinks at ≤ 3.3e-7.
The plain figure, the piece figure, the number of kinks and their largest margin are all in the card,
as is float32 autograd's own plain figure for comparison.

Everything is written into a staging folder beside the target and checked there (the card is read
back with its checksums); only then are the files moved into place with os.replace, the card last,
so the previous model stays complete until the new one is. Between the moves a reader sees either
the old card (whose checksums then refuse the new files) or the new one: refused, never mixed.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from cxrviewer import paths
from cxrviewer.core.cards import (
    CARD_SUFFIX,
    SCHEMA,
    ModelCard,
    ParityFigure,
    card_from_dict,
    card_path,
    file_entry,
    input_from_dict,
    input_to_dict,
    load_card,
    write_card,
)
from cxrviewer.core.errors import ModelError
from cxrviewer.core.signing import signature_path
from cxrviewer.training import onnx_graphs
from cxrviewer.training.checkpoint import Checkpoint, build_from_checkpoint, read_checkpoint

log = logging.getLogger(__name__)

TOLERANCE = 1e-4
# Facts a training run writes into the checkpoint's meta that travel unchanged into the card.
# How the runtime fits an image of any size to an image model (runtime.tiling): a segmentation net
# must see the whole chest; bone suppression runs at the anatomy scale it was trained on (512² JSRT)
# and its removed bones are applied at full resolution.
IMAGE_POLICIES = {"segmentation": "resize", "bone_suppression": "rescale_residual"}
CARRIED_FACTS = ("probability_meaning", "confusion", "notes", "reference")
# Real radiographs for the parity check, relative to the shared data folder (first found are used).
REAL_IMAGES = (
    "rsna_pneumonia/images/00a05408-8291-4231-886e-13763e103161.jpg",
    "jsrt_bse/512_Originals/JPCLN001.png",
)


def max_rel_diff(actual: npt.NDArray[np.floating], reference: npt.NDArray[np.floating]) -> float:
    """max|actual − reference| / max|reference|; 0 when both are all zero, inf when only reference is."""
    scale = float(np.abs(reference).max())
    error = float(np.abs(actual.astype(np.float64) - reference).max())
    if scale == 0.0:
        return 0.0 if error == 0.0 else float("inf")
    return error / scale


def default_real_images() -> list[Path]:
    root = paths.shared_data_dir()
    return [root / rel for rel in REAL_IMAGES if (root / rel).is_file()]


def model_tensor_from_file(path: Path, shape: tuple[int, int, int], value_range: tuple[float, float]) -> npt.NDArray[np.float32]:
    """An 8-bit grey image file as a (1, C, H, W) float32 tensor scaled into value_range."""
    grey = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if grey is None:
        raise ModelError(path, "cannot read the parity image")
    channels, height, width = shape
    small = cv2.resize(grey, (width, height), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    low, high = value_range
    scaled = low + small * (high - low)
    return np.repeat(scaled[None, None], channels, axis=1).astype(np.float32)


def head_spec(head: nn.Module) -> tuple[dict[str, Any], dict[str, npt.NDArray[np.float32]]]:
    """The card's head description and its tensors, for a GapLinearHead or an MLP nn.Sequential."""
    from cxrviewer.nets.base import GapLinearHead

    def tensor(t: torch.Tensor) -> npt.NDArray[np.float32]:
        return t.detach().cpu().numpy().astype(np.float32)

    if isinstance(head, GapLinearHead):
        layers = [
            {"op": "mean_hw"},
            {"op": "dropout", "params": {"p": head.dropout.p}},
            {"op": "linear", "weight": "linear.weight", "bias": "linear.bias"},
        ]
        return {"kind": "gap_linear", "layers": layers}, {
            "linear.weight": tensor(head.linear.weight), "linear.bias": tensor(head.linear.bias)
        }
    if not isinstance(head, nn.Sequential):
        raise ModelError(type(head).__name__, "head is neither GapLinearHead nor an nn.Sequential MLP")
    layers, tensors = [], {}
    for index, layer in enumerate(head):
        if isinstance(layer, nn.Linear):
            tensors[f"{index}.weight"], tensors[f"{index}.bias"] = tensor(layer.weight), tensor(layer.bias)
            layers.append({"op": "linear", "weight": f"{index}.weight", "bias": f"{index}.bias"})
        elif isinstance(layer, nn.MaxPool2d):
            params = {k: getattr(layer, k) for k in ("kernel_size", "stride", "padding", "dilation", "ceil_mode")}
            layers.append({"op": "maxpool2d", "params": params})
        elif isinstance(layer, nn.Flatten):
            layers.append({"op": "flatten", "params": {"start_dim": layer.start_dim}})
        elif isinstance(layer, nn.ReLU):
            layers.append({"op": "relu"})
        elif isinstance(layer, nn.Dropout):
            layers.append({"op": "dropout", "params": {"p": layer.p}})
        else:
            raise ModelError(type(head).__name__, f"head layer {index} ({type(layer).__name__}) is not supported")
    return {"kind": "mlp", "layers": layers}, tensors


def _parity(
    net: nn.Module,
    staging: Path,
    name: str,
    inputs: list[tuple[str, npt.NDArray[np.float32]]],
    gradient: torch.fx.GraphModule | None,
    tolerance: float = TOLERANCE,
) -> list[dict[str, Any]]:
    """Each ONNX output vs the same network evaluated in float64 (saliency: float64 autograd).

    float64, because float32 autograd is itself not a reference to 1e-4: in deep ReLU nets a
    pre-activation within rounding of zero flips its ReLU mask, and PyTorch's own float32 saliency
    of a random-weight ResNet-34 is 2 % (max relative) away from the exact gradient. `gradient` is
    the traced saliency graph of a classifier (None for image-to-image nets); a saliency figure above
    `tolerance` gets the piece check of the module docstring.
    """
    import copy

    import onnx
    import onnxruntime as ort

    from cxrviewer.runtime.providers import SALIENCY_DISABLED_OPTIMIZERS
    from cxrviewer.training.saliency_parity import piece_check

    def session(path: Path | bytes, disabled_optimizers: Sequence[str] = ()) -> Any:
        options = ort.SessionOptions()
        options.log_severity_level = 3
        return ort.InferenceSession(
            path if isinstance(path, bytes) else str(path), sess_options=options,
            providers=["CPUExecutionProvider"], disabled_optimizers=list(disabled_optimizers),
        )

    exact = copy.deepcopy(net).double()
    main = session(staging / f"{name}.onnx")
    # Loaded the way the runtime loads it, so the figures hold for the viewer.
    classifier = gradient is not None
    saliency = session(staging / f"{name}.saliency.onnx", SALIENCY_DISABLED_OPTIMIZERS) if classifier else None
    figures = []
    for label, x in inputs:
        x64 = torch.from_numpy(x).double()
        with torch.no_grad():
            if classifier:
                features = exact.features(x64)
                reference = {"logits": exact.head(features).numpy(), "features": features.numpy()}
            else:
                reference = {"output": exact(x64).numpy()}
        got = dict(zip(reference, main.run(list(reference), {"image": x}), strict=True))
        figures += [{"output": k, "inputs": label, "max_rel_diff": max_rel_diff(got[k], v)} for k, v in reference.items()]
        if saliency is None:
            continue
        logits = reference["logits"][0]
        for cls in sorted({int(np.argmax(logits)), int(np.argmin(logits))}):
            image = x64.clone().requires_grad_(True)
            exact(image)[0, cls].backward()
            onehot = np.zeros((1, logits.size), np.float32)
            onehot[0, cls] = 1.0
            graph = saliency.run(["saliency"], {"image": x, "class_onehot": onehot})[0]
            image32 = torch.from_numpy(x.copy()).requires_grad_(True)
            net(image32)[0, cls].backward()
            figure = {
                "output": f"saliency[{cls}]",
                "inputs": label,
                "max_rel_diff": max_rel_diff(graph, image.grad.numpy()),
                "float32_autograd": max_rel_diff(image32.grad.numpy(), image.grad.numpy()),
            }
            if figure["max_rel_diff"] > tolerance:
                model = onnx.load(str(staging / f"{name}.saliency.onnx"))
                piece = piece_check(
                    gradient, model, lambda data: session(data, SALIENCY_DISABLED_OPTIMIZERS), x, onehot, graph
                )
                figure.update(same_piece=piece.max_rel_diff, kinks=piece.kinks, kink_margin=piece.worst_margin)
            figures.append(figure)
    return figures


def parity_ok(figure: ParityFigure | dict[str, Any], tolerance: float = TOLERANCE) -> bool:
    """Whether one parity figure passes: within `tolerance`, or (saliency) the piece rule above.

    The piece rule: `same_piece` within `tolerance` and every kink where the graph's piece differs
    from float64's within `tolerance` of its threshold (`kink_margin`); see the module docstring.
    """
    get = figure.get if isinstance(figure, dict) else lambda key: getattr(figure, key)
    if get("max_rel_diff") <= tolerance:
        return True
    piece, margin = get("same_piece"), get("kink_margin")
    return (
        get("output").startswith("saliency") and piece is not None and margin is not None
        and piece <= tolerance and margin <= tolerance
    )


def _install(staging: Path, folder: Path, name: str) -> None:
    """Move the checked files into `folder`, card last; then drop files only the old card listed."""
    old_card = card_path(folder, name)
    old_files = set()
    if old_card.is_file():
        try:
            old_files = {f.path for f in load_card(old_card, verify_files=False).files}
        except ModelError as error:
            log.warning("replacing an unreadable card: %s", error)
    new_card = load_card(card_path(staging, name))
    # A model exported here is the workstation's own: a release signature of the model it replaces
    # covers other files and would refuse it (`core.signing`); the new one runs as unsigned.
    signature_path(folder, name).unlink(missing_ok=True)
    # Temp files are created owner-only; installed models are read by every user of the machine.
    for entry in new_card.files:
        (staging / entry.path).chmod(0o644)
        (staging / entry.path).replace(folder / entry.path)
    card_path(staging, name).chmod(0o644)
    card_path(staging, name).replace(old_card)
    for stale in old_files - {f.path for f in new_card.files}:
        (folder / stale).unlink(missing_ok=True)


def export_model(
    checkpoint: Path | Checkpoint,
    out: Path,
    *,
    real_images: Sequence[Path] | None = None,
    random_inputs: int = 1,
    tolerance: float = TOLERANCE,
    seed: int = 0,
) -> ModelCard:
    """Export `checkpoint` as model `out.name` into folder `out.parent`; return the installed card.

    real_images: grey image files for the parity check (default: the shared data's, when present).
    Raises ModelError if any export step fails or any parity figure exceeds `tolerance`; the
    previously installed model of that name is then left exactly as it was.
    """
    started = time.perf_counter()
    checkpoint = checkpoint if isinstance(checkpoint, Checkpoint) else read_checkpoint(Path(checkpoint))
    meta = checkpoint.meta
    out = Path(out)
    name, folder = out.name, out.parent
    if not name or name.endswith(CARD_SUFFIX) or "." in name:
        raise ModelError(out, "the output is models/NAME: a model name without dots or suffixes")
    net = build_from_checkpoint(checkpoint)
    classifier = meta["task"] in ("classification", "multilabel", "gate")
    height, width = net.input_size if classifier else net.working_size
    channels = net.in_channels
    # The run recorded its scaling and steps (`run._checkpoint_meta`); the size is the net's.
    contract = input_from_dict(name, {"scaling": "unit/stretch", **meta.get("input", {}), "height": height,
                                      "width": width, "channels": channels,
                                      "resize_policy": "none" if classifier else IMAGE_POLICIES.get(meta["task"], "tile")})
    low, high = contract.value_range

    rng = np.random.default_rng(seed)
    inputs = [
        (f"random:{i}", (low + rng.random((1, channels, height, width)) * (high - low)).astype(np.float32))
        for i in range(random_inputs)
    ]
    images = default_real_images() if real_images is None else list(real_images)
    inputs += [(f"real:{p.name}", model_tensor_from_file(p, (channels, height, width), (low, high))) for p in images]
    example = torch.from_numpy(inputs[0][1])

    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.export-", dir=folder))
    try:
        from safetensors.numpy import save_file as save_numpy
        from safetensors.torch import save_file as save_torch

        files = [("onnx", staging / f"{name}.onnx"), ("weights", staging / f"{name}.safetensors")]
        card: dict[str, Any] = {}
        gradient = None
        if classifier:
            onnx_graphs.export_classifier(net, files[0][1], example)
            gradient = onnx_graphs.export_saliency(net, staging / f"{name}.saliency.onnx", example, len(meta["labels"]))
            head, tensors = head_spec(net.head)
            save_numpy(tensors, str(staging / f"{name}.head.safetensors"))
            files += [("saliency_onnx", staging / f"{name}.saliency.onnx"), ("head", staging / f"{name}.head.safetensors")]
            card.update(outputs=["logits", "features"], saliency_file=f"{name}.saliency.onnx",
                        head={**head, "file": f"{name}.head.safetensors"})
        else:
            onnx_graphs.export_image_to_image(net, files[0][1], example)
            card.update(outputs=["output"])
        save_torch({k: v.detach().contiguous() for k, v in net.state_dict().items()}, str(files[1][1]))

        figures = _parity(net, staging, name, inputs, gradient, tolerance)
        worst = max(figures, key=lambda f: f["max_rel_diff"])
        log.info("model %s: worst parity %s on %s = %.3g", name, worst["output"], worst["inputs"], worst["max_rel_diff"])
        for figure in figures:
            if "same_piece" in figure:
                log.warning(
                    "model %s: %s on %s is %.2g from float64 autograd (float32 autograd %.2g): %d choices at "
                    "kinks (farthest %.2g from its kink); on the graph's own piece %.2g",
                    name, figure["output"], figure["inputs"], figure["max_rel_diff"], figure["float32_autograd"],
                    figure["kinks"], figure["kink_margin"], figure["same_piece"],
                )
        failed = [figure for figure in figures if not parity_ok(figure, tolerance)]
        if failed:
            bad = failed[0]
            piece = f", {bad['same_piece']:.3g} on the graph's own piece, kinks up to {bad['kink_margin']:.3g}" \
                if "same_piece" in bad else ""
            raise ModelError(
                name,
                f"export parity failed: {bad['output']} on {bad['inputs']} differs by {bad['max_rel_diff']:.3g} "
                f"(max relative difference{piece}; limit {tolerance:.3g}); the installed model was not changed",
            )
        card.update(
            schema=SCHEMA, name=name, version=str(meta.get("version", "1")), task=meta["task"], arch=checkpoint.arch,
            arch_params=meta.get("arch_params", {}), labels=meta["labels"], thresholds=meta.get("thresholds", []),
            input=input_to_dict(contract), files=[vars(file_entry(role, path)) for role, path in files],
            provenance=meta.get("provenance", {}), metrics=meta.get("metrics", []), parity=figures,
            limits=meta.get("limits", []),
        )
        card.update({key: meta[key] for key in CARRIED_FACTS if key in meta})
        validated = card_from_dict(name, card)
        write_card(validated, card_path(staging, name))
        _install(staging, folder, name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("model %s exported to %s in %.1f s", name, folder, time.perf_counter() - started)
    return load_card(card_path(folder, name))
