"""Every map against its PyTorch definition, for every classifier architecture, on random and real
inputs (random weights: these test the maths, not a trained model). Tolerance: 1e-4 relative,
max|ours − reference| / max|reference|."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
from torch_reference import (
    CLASSIFIERS,
    autograd_references,
    bruteforce_crm,
    calibrate_batch_norm,
    model_input,
    numpy_head,
    rel_diff,
)

from cxrviewer.core.errors import ModelError
from cxrviewer.core.maps import cam, crm, gradcam, predicted_class, saliency
from cxrviewer.nets import build

TOLERANCE = 1e-4


@functools.lru_cache(maxsize=1)
def _model(arch: str):
    torch.manual_seed(0)
    model = build(arch)
    calibrate_batch_norm(model, torch.from_numpy(model_input(arch, "random", seed=1)))
    return model.eval(), numpy_head(model.head)


class Case:
    def __init__(self, arch: str, kind: str):
        self.arch = arch
        self.model, self.head = _model(arch)
        self.x = torch.from_numpy(model_input(arch, kind))
        with torch.no_grad():
            features = self.model.features(self.x)
            self.logits = self.model.head(features)[0].numpy()
        self.features_t = features
        self.features = features[0].numpy()
        self.references = autograd_references(self.model, self.x)


@pytest.fixture(scope="module", params=[(a, k) for a in CLASSIFIERS for k in ("random", "real")], ids=str)
def case(request) -> Case:
    return Case(*request.param)


def test_numpy_head_equals_torch_head(case):
    ours = case.head.forward(case.features[None])[0]
    assert rel_diff(ours, case.logits) < TOLERANCE
    assert predicted_class(case.features, case.head) == int(np.argmax(case.logits))


def test_gradcam_equals_hook_based_autograd(case):
    checked = 0
    for c in range(case.head.num_classes):
        reference = case.references[c][0]
        ours = gradcam(case.features, case.head, c)
        assert ours.shape == case.features.shape[1:] and ours.dtype == np.float32
        assert rel_diff(ours, reference) < TOLERANCE, (case.arch, c)
        checked += bool(reference.max() > 0)
    assert checked > 0, "every Grad-CAM was empty: the comparison proved nothing"


def test_crm_equals_bruteforce_removal(case):
    reference = bruteforce_crm(case.model.head, case.features_t)
    ours = crm(case.features, case.head)
    assert reference.max() > 0
    assert rel_diff(ours, reference) < TOLERANCE


def test_cam_equals_its_definition(case):
    if not case.head.is_gap_linear:
        with pytest.raises(ModelError, match="GAP"):
            cam(case.features, case.head, 0)
        return
    weight = case.model.head.linear.weight.detach().double()
    bias = case.model.head.linear.bias.detach().double()
    for c in range(case.head.num_classes):
        reference = torch.einsum("k,khw->hw", weight[c], case.features_t[0].double())
        ours = cam(case.features, case.head, c)
        assert rel_diff(ours, reference.numpy()) < TOLERANCE
        # The logit is the CAM's spatial mean plus the bias: the definition seen from the output.
        assert abs(float(ours.mean()) + float(bias[c]) - case.logits[c]) < TOLERANCE * max(1.0, abs(case.logits[c]))


def test_saliency_equals_autograd(case):
    c = int(np.argmax(case.logits))
    gradient = case.references[c][1]
    ours = saliency(gradient)
    reference = np.abs(gradient).max(axis=0)
    assert ours.shape == case.x.shape[2:]
    assert rel_diff(ours, reference) < TOLERANCE
