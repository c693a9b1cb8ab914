"""The starting weights of the msdwres_bs bone-suppression candidate: the shipped dwres_bs weights
with the coarse branch's new tensors added (random, and its 1×1 lift zero, so the net starts as the
shipped model and `training.run.initialise_from` finds every tensor it needs).

    python scripts/bone_candidate_init.py OUT.safetensors [--from models/bone-suppression-jsrt.safetensors]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from cxrviewer import paths
from cxrviewer.nets import build


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--from", dest="source", type=Path,
                        default=paths.models_dir() / "bone-suppression-jsrt.safetensors")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    net = build("msdwres_bs")
    missing, unexpected = net.load_state_dict(load_file(str(args.source)), strict=False)
    if unexpected or not all(k.startswith(("down.", "coarse.", "lift.")) for k in missing):
        raise SystemExit(f"{args.source}: not a dwres_bs model ({unexpected[:3] or missing[:3]})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(args.out))
    print(f"wrote {args.out}: {len(missing)} new tensors beside the {args.source.name} ones")
    return 0


if __name__ == "__main__":
    sys.exit(main())
