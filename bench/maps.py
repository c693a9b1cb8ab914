"""Explanation maps, side by side in one run: ours (ONNX Runtime outputs + numpy) against the PyTorch
peers on the same random-weight tb-net and input, plus display re-threshold time and RSS over 200
studies. Prints tables; not a test.

    .venv/bin/python bench/maps.py [--studies 200] [--repeats 7]

Peers come from the `bench` extra: pytorch-grad-cam (GradCAM) and Captum (Saliency).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cxrviewer.analysis.study_maps import model_space_maps  # noqa: E402
from cxrviewer.core import maps  # noqa: E402
from cxrviewer.core.display.compose import (  # noqa: E402
    OverlayStyle,
    Threshold,
    apply_lut,
    build_lut,
    index_map,
    threshold_index,
)
from cxrviewer.core.maps.geometry import to_image  # noqa: E402
from cxrviewer.core.preprocess import InputContract, prepare  # noqa: E402
from cxrviewer.nets import build  # noqa: E402
from cxrviewer.runtime.registry import load_model  # noqa: E402
from cxrviewer.training.checkpoint import save_checkpoint  # noqa: E402
from cxrviewer.training.export import export_model, head_spec  # noqa: E402

THREADS = 2


def median_ms(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * 4096 / 2**20


def calibrated(arch: str, size: tuple[int, int], channels: int, seed: int = 3) -> torch.nn.Module:
    torch.manual_seed(seed)
    net = build(arch)
    for norm in (m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)):
        norm.reset_running_stats()
        norm.momentum = None
    net.train()
    with torch.no_grad():
        net(torch.from_numpy(np.random.default_rng(1).random((1, channels, *size), dtype=np.float32)))
    return net.eval()


def export_tbnet(net: torch.nn.Module, folder: Path):
    meta = {
        "format": "cxrviewer.checkpoint/1", "arch": "tbnet", "arch_params": {"num_classes": 2, "in_channels": 1},
        "task": "classification", "labels": ["normal", "tb"], "thresholds": [0.5, 0.5], "version": "bench",
        "input": {"value_range": [0, 1], "scaling": "unit/stretch", "preprocessing": [], "resize_policy": "none"},
    }
    checkpoint = save_checkpoint(net, folder / "tbnet_bench.safetensors", meta)
    export_model(checkpoint, folder / "models" / "tbnet_bench", real_images=[], random_inputs=1)
    return load_model("tbnet_bench", folder / "models", intra_op_threads=THREADS)


def row(name: str, ours: float, peer: float, peer_name: str) -> str:
    return f"| {name} | {ours:9.2f} | {peer:9.2f} | {peer_name} | {peer / ours:6.1f}× |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(THREADS)
    from captum.attr import Saliency
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    net = calibrated("tbnet", (512, 512), 1)
    x = np.random.default_rng(0).random((1, 1, 512, 512), dtype=np.float32)
    xt = torch.from_numpy(x)
    with tempfile.TemporaryDirectory() as tmp:
        loaded = export_tbnet(net, Path(tmp))
        head = loaded.head
        c = 1

        def our_gradcam():
            _, features = loaded.backend.classify(x)
            return maps.gradcam(features[0], head, c)

        def our_saliency():
            return maps.saliency(loaded.backend.saliency(x, c)[0])

        def our_crm():
            _, features = loaded.backend.classify(x)
            return maps.crm(features[0], head)

        with GradCAM(model=net, target_layers=[net.features]) as peer_cam:
            peer_gradcam_ms = median_ms(lambda: peer_cam(input_tensor=xt, targets=[ClassifierOutputTarget(c)]), args.repeats)
        captum = Saliency(net)
        peer_saliency_ms = median_ms(lambda: captum.attribute(xt.clone().requires_grad_(True), target=c, abs=True), args.repeats)

        with torch.no_grad():
            features_t = net.features(xt)

        def bruteforce_crm_loop(head_module, features):
            _, _, h, w = features.shape
            with torch.no_grad():
                scores = head_module(features)
                out = torch.empty(h * w)
                for p in range(h * w):
                    changed = features.clone()
                    changed[:, :, p // w, p % w] = 0
                    out[p] = ((head_module(changed) - scores) ** 2).sum()
            return out

        print("## Explanations on tb-net (512², random weights), median ms, 2 threads\n")
        print("| map | ours (ms) | peer (ms) | peer | peer / ours |")
        print("| --- | ---: | ---: | --- | ---: |")
        print(row("Grad-CAM (ours: ONNX features + numpy head)", median_ms(our_gradcam, args.repeats), peer_gradcam_ms, "pytorch-grad-cam GradCAM"))
        print(row("saliency (ours: ONNX saliency graph)", median_ms(our_saliency, args.repeats), peer_saliency_ms, "Captum Saliency"))
        def bruteforce_crm_from_image():
            with torch.no_grad():
                return bruteforce_crm_loop(net.head, net.features(xt))

        # Both sides start from the image: ours runs the ONNX forward, the loop the torch forward.
        print(row("CRM 8×8 (from the image)", median_ms(our_crm, args.repeats),
                  median_ms(bruteforce_crm_from_image, args.repeats), "brute-force loop (torch forward + head)"))
        print(row("CRM 8×8 (features given)", median_ms(lambda: maps.crm(features_t[0].numpy(), head), args.repeats),
                  median_ms(lambda: bruteforce_crm_loop(net.head, features_t), args.repeats), "brute-force loop (torch head)"))

        seq = calibrated("seqcnn", (227, 227), 3)
        with torch.no_grad():
            seq_features = seq.features(torch.rand(1, 3, 227, 227))
        spec, tensors = head_spec(seq.head)
        seq_head = maps.head_from_spec(
            [(layer["op"], {"weight": layer["weight"], "bias": layer["bias"]} if layer["op"] == "linear"
              else layer.get("params", {})) for layer in spec["layers"]],
            tensors,
        )
        f = seq_features[0].numpy()
        print(row("CRM 20×20, seqcnn MLP head (features given)", median_ms(lambda: maps.crm(f, seq_head), 3),
                  median_ms(lambda: bruteforce_crm_loop(seq.head, seq_features), 1), "brute-force loop (torch head)"))

        print("\n## Display: re-threshold / recolour a 2048² map (LUT rebuild + LUT application)\n")
        big = np.random.default_rng(1).random((2048, 2048), dtype=np.float32)
        indexed = index_map(big)
        styles = [OverlayStyle(cm, Threshold("fraction", t), 0.5) for cm, t in (("jet", 0.2), ("viridis", 0.4), ("reds", 0.6))]
        state = {"i": 0}

        def restyle():
            style = styles[state["i"] % len(styles)]
            state["i"] += 1
            return apply_lut(indexed.index, build_lut(style, threshold_index(indexed, style.threshold)))

        restyle_ms = median_ms(restyle, 21)
        index_ms = median_ms(lambda: index_map(big), 5)
        print("| step | median ms | target |")
        print("| --- | ---: | --- |")
        print(f"| LUT rebuild + application (RGBA 2048²) | {restyle_ms:.2f} | < 16 ms: {'met' if restyle_ms < 16 else 'MISSED'} |")
        print(f"| index image (once per map and scale) | {index_ms:.2f} | - |")

        print(f"\n## RSS over {args.studies} studies, all maps each (saliency, Grad-CAM, CAM, CRM, to image grid)\n")
        contract = InputContract(512, 512, 1)
        rng = np.random.default_rng(2)
        marks = {}
        for study in range(1, args.studies + 1):
            pixels = rng.random((600, 500), dtype=np.float32)
            model_x, geometry = prepare(pixels, contract)
            _, features = loaded.backend.classify(model_x[None])
            computed = model_space_maps(loaded, model_x, features[0], ["saliency", "gradcam", "cam", "crm"], 1)
            for values in computed.values():
                to_image(values, geometry)
            if study in (10, args.studies // 2, args.studies):
                marks[study] = rss_mb()
        print("| after study | RSS (MB) |")
        print("| ---: | ---: |")
        for study, value in marks.items():
            print(f"| {study} | {value:.1f} |")
        growth = marks[args.studies] - marks[10]
        print(f"\ngrowth from study 10 to {args.studies}: {growth:+.1f} MB")


if __name__ == "__main__":
    main()
