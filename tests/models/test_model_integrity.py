"""A model that is not what its card says is refused (issue 15): each tamper case is made on a copy
of the real `models/`, and run through the loader, `cxrviewer models`, `analyze` and `report`.

The shipped models are signed with the release key (its private half never enters the project); a
test that needs a tampered model to pass the signature, so that the next check (graph shapes, the
known answer) is the one that catches it, re-signs it with a key it makes itself and trusts for the
test alone.
"""

from __future__ import annotations

import dataclasses
import html
import json
import logging
import shutil

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cxrviewer import paths
from cxrviewer.analysis import known_answer
from cxrviewer.analysis.findings import classify_pixels
from cxrviewer.analysis.installed import installed_model
from cxrviewer.analysis.report_readings import finding_reading
from cxrviewer.cli import main
from cxrviewer.core import signing
from cxrviewer.core.cards import card_path, file_sha256, load_card
from cxrviewer.core.errors import ModelError
from cxrviewer.core.io import read_image
from cxrviewer.core.site_settings import SiteThreshold, save_site_threshold
from cxrviewer.gui.findings_text import origin_html, threshold_html

MODEL = "pneumonia-kermany"


@pytest.fixture
def models(tmp_path, monkeypatch):
    """A copy of the shipped models, and a fresh known-answer cache (so every test runs the check)."""
    folder = tmp_path / "models"
    shutil.copytree(paths.models_dir(), folder)
    monkeypatch.setenv("CXRVIEWER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("CXRVIEWER_SITE_SETTINGS", str(tmp_path / "site" / "site-settings.json"))
    return folder


@pytest.fixture
def test_key(monkeypatch):
    """A key of the test's own, trusted beside the release key for this test only."""
    key = Ed25519PrivateKey.generate()
    release = signing.trusted_keys()
    monkeypatch.setattr(signing, "trusted_keys", lambda: {**release, signing.key_id(key.public_key()): key.public_key()})
    return key


def edit_card(folder, name, change):
    path = card_path(folder, name)
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=2))


def resign(folder, name, key):
    signing.sign_model(load_card(card_path(folder, name), verify_files=False), folder, key)


def refusal(folder, name=MODEL) -> str:
    with pytest.raises(ModelError) as caught:
        installed_model(name, folder)
    assert caught.value.model == name
    return caught.value.problem


def demo_pixels():
    return read_image(paths.demo_study()).pixels


def test_every_shipped_model_is_signed_by_the_release_key_and_gives_its_known_answer(models):
    for name in signing.signed_names(paths.models_dir()):
        loaded = installed_model(name, models)
        assert loaded.trust.signed and loaded.trust.label.startswith("signed release model")
    assert set(signing.signed_names(models)) == {p.name.removesuffix(".card.json") for p in models.glob("*.card.json")}
    # The package holds the public key only.
    assert not list(paths.resources_dir().rglob("*.pem")) or all(
        "PRIVATE" not in p.read_text() for p in paths.resources_dir().rglob("*.pem"))


def test_a_raised_threshold_is_refused_naming_the_field(models):
    edit_card(models, MODEL, lambda card: card["thresholds"].__setitem__(1, 0.999))
    problem = refusal(models)
    assert "thresholds[1] is 0.999; the signed card says" in problem


def test_swapped_labels_are_refused(models):
    edit_card(models, MODEL, lambda card: card["labels"].reverse())
    problem = refusal(models)
    assert "labels[0] is \"pneumonia\"; the signed card says \"normal\"" in problem


def test_another_models_graph_with_its_checksum_updated_is_refused_by_the_signature(models):
    graph = models / f"{MODEL}.onnx"
    shutil.copy(models / "opacity-rsna.onnx", graph)
    edit_card(models, MODEL, lambda card: card["files"][0].update(sha256=file_sha256(graph), size=graph.stat().st_size))
    problem = refusal(models)
    assert "card field files[0].sha256 is" in problem and "the signed card says" in problem


def test_one_changed_byte_of_a_graph_is_refused_with_or_without_its_checksum_updated(models):
    graph = models / f"{MODEL}.onnx"
    data = bytearray(graph.read_bytes())
    data[len(data) // 2] ^= 0x01
    graph.write_bytes(bytes(data))
    assert "does not match its checksum" in refusal(models) or "is not the signed file" in refusal(models)
    edit_card(models, MODEL, lambda card: card["files"][0].update(sha256=file_sha256(graph)))
    assert "files[0].sha256" in refusal(models)


def test_a_signature_altered_or_by_an_unknown_key_is_refused(models):
    path = signing.signature_path(models, MODEL)
    document = json.loads(path.read_text())
    document["manifest"]["card"]["thresholds"][1] = 0.1  # edit card and manifest alike
    path.write_text(json.dumps(document))
    edit_card(models, MODEL, lambda card: card["thresholds"].__setitem__(1, 0.1))
    assert "does not verify" in refusal(models)
    resign(models, MODEL, Ed25519PrivateKey.generate())
    assert "which this program does not trust" in refusal(models)


def test_an_edited_input_size_signed_anew_is_refused_by_the_graph_check(models, test_key):
    edit_card(models, MODEL, lambda card: card["input"].__setitem__("height", 200))
    resign(models, MODEL, test_key)
    problem = refusal(models)
    assert problem == (f"graph {MODEL}.onnx does not match its card: it takes (N, 1, 224, 224), "
                       "the card says (N, 1, 200, 224)")


def test_a_graph_of_another_input_size_signed_anew_is_refused_by_the_graph_check(models, test_key):
    graph = models / f"{MODEL}.onnx"
    shutil.copy(models / "cxr-gate.onnx", graph)  # 128² where the card says 224²
    edit_card(models, MODEL, lambda card: card["files"][0].update(sha256=file_sha256(graph), size=graph.stat().st_size))
    resign(models, MODEL, test_key)
    assert "it takes (N, 1, 128, 128), the card says (N, 1, 224, 224)" in refusal(models)


def test_a_graph_of_the_same_size_signed_anew_is_refused_by_the_known_answer(models, test_key):
    graph = models / f"{MODEL}.onnx"
    shutil.copy(models / "opacity-rsna.onnx", graph)  # same 224² input, another model's answer
    edit_card(models, MODEL, lambda card: card["files"][0].update(sha256=file_sha256(graph), size=graph.stat().st_size))
    resign(models, MODEL, test_key)
    problem = refusal(models)
    assert problem.startswith("it does not give its known answer on demo/demo_chest_pa.dcm")
    assert "P(pneumonia)" in problem


def test_the_known_answer_runs_once_per_model_version(models, monkeypatch):
    calls = []
    original = known_answer.differences
    monkeypatch.setattr(known_answer, "differences", lambda loaded: calls.append(loaded.card.name) or original(loaded))
    installed_model(MODEL, models)
    from cxrviewer.runtime.model_cache import forget_models
    forget_models()  # a new process: only the on-disk verdict is left
    installed_model(MODEL, models)
    assert calls == [MODEL]
    assert MODEL in (paths.cache_dir() / known_answer.CACHE_NAME).read_text()


def test_a_model_without_a_signature_runs_and_says_it_is_unsigned(models):
    signing.signature_path(models, MODEL).unlink()
    loaded = installed_model(MODEL, models)
    assert not loaded.trust.signed
    finding = classify_pixels(loaded, demo_pixels())
    assert finding.origin == "unsigned: trained on this workstation"
    assert "unsigned: trained on this workstation" in origin_html(finding)  # in the model's details
    assert finding_reading(finding, loaded.card).result.endswith("[unsigned: trained on this workstation]")


def test_the_cli_refuses_with_a_message_not_a_traceback(models, tmp_path, caplog, capsys):
    edit_card(models, MODEL, lambda card: card["labels"].reverse())
    study = paths.demo_study()
    with caplog.at_level(logging.INFO):
        assert main(["analyze", str(study), "--model", MODEL, "--models-dir", str(models)]) == 1
    assert f"model {MODEL}: its card differs from the signed card" in caplog.text
    assert "Traceback" not in caplog.text
    assert main(["models", "--models-dir", str(models)]) == 1
    out = capsys.readouterr()
    installed = len(list(models.glob("*.card.json")))
    assert f"1 of {installed} models refused" in out.err and "its card differs from the signed card" in out.out
    caplog.clear()
    with caplog.at_level(logging.INFO):
        assert main(["report", str(study), "--out", str(tmp_path / "out"), "--models-dir", str(models)]) == 1
    assert (tmp_path / "out" / "demo_chest_pa.report.pdf").is_file()  # still written, saying what could not run
    assert f"refused: model {MODEL}" in caplog.text


def test_a_site_threshold_changes_the_call_and_is_shown_as_such(models, tmp_path, caplog):
    loaded = installed_model(MODEL, models)
    at_card = classify_pixels(loaded, demo_pixels())
    p = at_card.probabilities[1]
    assert at_card.site is None and at_card.positive == (1,)  # the phantom scores high: a meaningless study
    site = SiteThreshold(MODEL, "pneumonia", round(min(p + 0.002, 1.0), 4), loaded.card.thresholds[1],
                         loaded.card.version, 212, "2026-12-10")
    save_site_threshold(site)
    at_site = classify_pixels(loaded, demo_pixels())
    assert at_site.positive == (0,) and at_site.threshold == site.threshold and at_site.site == site
    shown = html.unescape(threshold_html(at_site))  # in the model's details, where the threshold's origin is told
    assert (f"{100 * site.threshold:.1f} %, this site's: calibrated on 212 local films on 2026-12-10 (the model "
            f"card's is {100 * site.card_threshold:.1f} %)") in shown
    assert "called at the site threshold" in finding_reading(at_site, loaded.card).result
    # The card is untouched and still verifies.
    assert load_card(card_path(models, MODEL)).thresholds == loaded.card.thresholds
    # A site threshold calibrated for another version of the model is not applied silently.
    save_site_threshold(dataclasses.replace(site, card_version="0"))
    with pytest.raises(ModelError, match="calibrated for version 0"):
        classify_pixels(loaded, demo_pixels())
    # Removed, the card's threshold makes the call again.
    assert main(["site", "clear", "--model", MODEL]) == 0
    assert classify_pixels(loaded, demo_pixels()).positive == (1,)


def test_site_command_sets_and_shows_a_threshold(models, capsys):
    assert main(["site", "set", "--model", "tb-lesions-tbx11k", "--threshold", "0.42", "--films", "212",
                 "--date", "2026-12-10", "--models-dir", str(models)]) == 0
    assert main(["site", "show"]) == 0
    out = capsys.readouterr().out
    assert "tb-lesions-tbx11k (tb_lesions): site threshold 0.42, calibrated on 212 local films on 2026-12-10 (card" in out
    assert main(["site", "set", "--model", "cxr-gate", "--threshold", "0.5", "--films", "3",
                 "--models-dir", str(models)]) == 1
    assert main(["site", "clear", "--model", "tb-lesions-tbx11k"]) == 0
    assert np.isfinite(installed_model("tb-lesions-tbx11k", models).card.thresholds[0])


def test_a_model_trained_here_under_a_shipped_name_replaces_the_release_seal(models, tmp_path):
    """The training dialog's export installs into the models folder: the release signature of the
    model it replaces covers other files and must not refuse the reader's own model."""
    from cxrviewer.training.export import _install

    staging = tmp_path / "staging"
    staging.mkdir()
    for source in models.glob(f"{MODEL}.*"):
        if not source.name.endswith(signing.SIGNATURE_SUFFIX):
            shutil.copy(source, staging / source.name)
    _install(staging, models, MODEL)
    assert not signing.signature_path(models, MODEL).exists()
    assert installed_model(MODEL, models).trust.label == "unsigned: trained on this workstation"
