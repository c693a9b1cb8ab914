"""The network settings and the outbox on their own (no peer needed)."""

from __future__ import annotations

import json
import os
import time

import pydicom
import pytest
from orthanc_support import read_shared, shared_dicoms

from cxrviewer.core.errors import ConfigError
from cxrviewer.net.outbox import enqueue, pending, retry
from cxrviewer.net.settings import (
    AllowedSender,
    NetworkSettings,
    Peer,
    load_network_settings,
    save_network_settings,
)


def test_settings_round_trip_and_refuse_what_is_wrong(tmp_path):
    path = tmp_path / "network.json"
    assert load_network_settings(path) == NetworkSettings()  # no file: the defaults
    settings = NetworkSettings("READROOM1", 11113, str(tmp_path / "in"), (AllowedSender("XRAY1", "10.0.0.7"),),
                               (Peer("pacs", "PACS", "10.0.0.2", 104, "http://10.0.0.2:8042/dicom-web"),
                                Peer("mover", "MOVER", "10.0.0.3", 104, retrieve="move")))
    save_network_settings(settings, path)
    assert load_network_settings(path) == settings
    assert settings.peer("pacs").port == 104 and settings.peer("pacs").retrieve == "get"
    assert settings.peer("mover").retrieve == "move"
    with pytest.raises(ConfigError, match="no PACS peer named 'other'.*known: pacs"):
        settings.peer("other")
    with pytest.raises(ConfigError, match="not an AE title"):
        Peer("x", "MUCH-TOO-LONG-AE-TITLE", "h", 104)
    with pytest.raises(ConfigError, match="peer x: retrieve is 'wado', not one of get, move"):
        Peer("x", "X", "h", 104, retrieve="wado")
    path.write_text(json.dumps({"schema": "something else"}))
    with pytest.raises(ConfigError, match="damaged"):
        load_network_settings(path)


def test_the_outbox_keeps_what_it_could_not_send_with_the_error(tmp_path):
    ds = read_shared(shared_dicoms()[0])
    (entry,) = enqueue(tmp_path, [ds], "nowhere")
    assert entry.path.is_file() and pydicom.dcmread(entry.path).SOPInstanceUID == ds.SOPInstanceUID
    report = retry(tmp_path, NetworkSettings())  # a peer the settings do not know: kept, and said why
    (kept,) = report.kept
    assert kept.attempts == 1 and "no PACS peer named 'nowhere'" in kept.error
    assert pending(tmp_path) == [kept] and entry.path.is_file()
    entry.path.unlink()  # a sidecar without its file: maybe being written, then (a minute on) a crash's leftover
    sidecar = entry.path.with_suffix(".json")
    assert pending(tmp_path) == [] and sidecar.exists()
    os.utime(sidecar, (time.time() - 120, time.time() - 120))
    assert pending(tmp_path) == [] and not list(tmp_path.iterdir())
