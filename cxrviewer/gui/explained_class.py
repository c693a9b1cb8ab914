"""The class the explanation maps explain: the reader's choice, kept from study to study, or else
the finding that matters on the shown study (`analysis.map_choice.default_map_class`).

Separate from the controller because it is its own small state machine (the classes seen, whether
the reader chose, whether setting a class should ask for its maps) over the stack's selector; the
controller hears the change through the stack, as it hears every other layer change.
"""

from __future__ import annotations

from cxrviewer.analysis.findings import Finding
from cxrviewer.analysis.map_choice import default_map_class
from cxrviewer.core.layers import MAP_KINDS, ClassSelector, LayerStack
from cxrviewer.gui.layer_panel import LayerPanel
from cxrviewer.gui.shown_study import ShownStudy

NO_DEFAULT_TEXT = "no finding called: pick a class to see what the model looks at"


class ExplainedClass:
    def __init__(self, stack: LayerStack, panel: LayerPanel, shown: ShownStudy):
        self.stack, self.panel, self.shown = stack, panel, shown
        self.labels: dict[str, tuple[str, ...]] = {}  # classifier → its class labels, once seen
        self.reader_chose = False  # the reader picked the class: kept from study to study
        self.request_maps = True  # False while a class is set without asking for its maps

    def selector(self, model: str, class_index: int) -> ClassSelector:
        labels = self.labels.get(model, ())
        return ClassSelector(model, class_index, labels[class_index] if class_index < len(labels) else "")

    def learn(self, finding: Finding) -> None:
        """A classifier's finding arrived: its classes join the panel's list."""
        self.labels[finding.model] = tuple(finding.labels)
        self.panel.set_classes([ClassSelector(m, i, label) for m, labels in self.labels.items()
                                for i, label in enumerate(labels)])

    def choose(self, selector: ClassSelector | None) -> None:
        """The reader picked the class the maps explain (the panel's list, a finding's link): it is
        kept from study to study until the reader picks "none" (None), which returns to the default."""
        self.reader_chose = selector is not None
        if selector is None:
            self.choose_default()
        else:
            self.set(selector)

    def select(self, selector: ClassSelector, request: bool = True) -> None:
        """Make the maps explain `selector`, as the reader's choice."""
        self.reader_chose = True
        self.set(selector, request)

    def choose_default(self) -> None:
        """Unless the reader chose, the maps explain the finding that matters (`map_choice`)."""
        if self.reader_chose:
            return
        choice = default_map_class(self.shown.findings.values())
        self.set(None if choice is None else self.selector(*choice))
        if choice is None and self.shown.findings:
            for kind in MAP_KINDS:
                self.panel.set_map(kind, None, NO_DEFAULT_TEXT)

    def set(self, selector: ClassSelector | None, request: bool = True) -> None:
        """Explain `selector` (None: no class); `request` False: without asking for its maps."""
        if selector != self.stack.selector:
            self.request_maps = request
            try:
                self.stack.select_class(selector)
            finally:
                self.request_maps = True
