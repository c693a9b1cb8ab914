"""Which heat-map layers show: the reader's saved default (QSettings), the layers the reader ticked,
and otherwise the one map shown by default on each study (issue 20: one map at a time).

Separate from the controller because it is the one place that tells the reader's choices from the
default's: a heat map the reader set (ticked, or saved as their default) is kept as set, study after
study; the others follow the default, and a layer the default turns on is not the reader asking to
see the layers again. The default itself is decided without Qt (`analysis.map_choice`).
"""

from __future__ import annotations

import json
import logging

from PySide6.QtCore import QSettings

from cxrviewer.core.errors import ConfigError
from cxrviewer.core.layers import HEAT_KINDS, LayerStack

log = logging.getLogger(__name__)

DEFAULT_KEY = "layers/default"


class LayerChoices:
    def __init__(self, stack: LayerStack, settings: QSettings):
        self.stack, self.settings = stack, settings
        self.asked: set[str] = set()  # heat-map layers whose "show" the reader set
        self.defaulting = False  # the one-map default is changing layers, not the reader

    def save_default(self) -> None:
        """Save the display choices as the reader's default; not the class explained, which belongs
        to a reading (and to models that may be gone next session)."""
        data = self.stack.to_dict()
        for item in data["layers"]:
            item["selector"] = None
        self.settings.setValue(DEFAULT_KEY, json.dumps(data))
        self.settings.sync()
        self.asked = set(HEAT_KINDS)  # the saved layers are the reader's choice

    def load_default(self) -> None:
        text = self.settings.value(DEFAULT_KEY, "")
        if not text:
            return
        try:
            self.stack.restore(json.loads(str(text)))
        except (ValueError, ConfigError) as error:
            log.warning("saved layer default in %s ignored: %s", self.settings.fileName(), error)
        else:
            self.asked = set(HEAT_KINDS)  # the reader's saved layers, not the one-map default

    def reset_to_factory(self) -> None:
        """The factory layers, none of them the reader's choice."""
        self.asked = set()
        self.stack.restore(LayerStack().to_dict())

    def show_only(self, target: str) -> None:
        """The heat maps the reader has not set show only `target`, the study's default one."""
        self.defaulting = True
        try:
            for kind in HEAT_KINDS:
                if kind not in self.asked and self.stack[kind].visible != (kind == target):
                    self.stack.update(kind, visible=kind == target)
        finally:
            self.defaulting = False

    def on_layer_ticked(self, kind: str, on: bool) -> None:
        """The reader set a layer's "show": kept; a heat map they tick replaces those on by default."""
        if kind not in HEAT_KINDS:
            return
        self.asked.add(kind)
        if on:
            for other in HEAT_KINDS:
                if other not in self.asked and self.stack[other].visible:
                    self.stack.update(other, visible=False)
