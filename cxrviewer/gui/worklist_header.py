"""The worklist's column header: its own sort arrow, and a right-click menu that shows or hides
columns, remembered in the settings.

The arrow: Qt paints a descending sort indicator as an upward arrow in Fusion (it maps Descending to
"SortUp"), so a list sorted most urgent first showed ▲. The header draws its own instead, in every
style the same: ▼ when the list runs from the highest (most urgent, Z) down, ▲ from the lowest up.

Columns: every column but the triage column can be hidden. By default the models' own columns are
hidden (the triage column carries the call a reader sorts by); the reader's choices override the
defaults, per column key, and are kept under COLUMNS_SHOWN_KEY / COLUMNS_HIDDEN_KEY.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPoint, QPointF, QRect, QSettings, Qt
from PySide6.QtGui import QAction, QPainter, QPolygonF
from PySide6.QtWidgets import QHeaderView, QMenu, QWidget

COLUMNS_SHOWN_KEY = "worklist/columns_shown"
COLUMNS_HIDDEN_KEY = "worklist/columns_hidden"
ARROW_SIZE = 7  # px: the sort arrow's width; its height is half that, plus one


def settings_list(settings: QSettings | None, key: str) -> list[str]:
    """A list kept in `settings` (QSettings gives a one-entry list back as a bare string from an INI file)."""
    value = settings.value(key, []) if settings is not None else []
    return [value] if isinstance(value, str) else list(value or [])


class WorklistHeader(QHeaderView):
    """keys(): each column's key, left to right; title(column): its name in the menu;
    hidden_by_default(key): whether a column is hidden until the reader shows it; fixed: columns
    that cannot be hidden. settings: where the reader's choices are kept (None: nowhere)."""

    def __init__(self, parent: QWidget, settings: QSettings | None, *, keys: Callable[[], list[str]],
                 title: Callable[[int], str], hidden_by_default: Callable[[str], bool], fixed: tuple[str, ...]):
        super().__init__(Qt.Orientation.Horizontal, parent)
        self._settings, self._keys, self._title, self._hidden_by_default = settings, keys, title, hidden_by_default
        self._fixed = fixed
        self.sorted = False  # whether a sort is in force (the arrow is drawn only then)
        self.setSectionsClickable(True)
        self.setSortIndicatorShown(False)  # the arrow is drawn in paintSection
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._popup_menu)

    # -- the arrow -------------------------------------------------------------------------------
    def show_sort(self, column: int, order: Qt.SortOrder) -> None:
        self.sorted = True
        self.setSortIndicator(column, order)
        self.viewport().update()

    def paintSection(self, painter: QPainter, rect: QRect, logical: int) -> None:  # noqa: N802 (Qt's name)
        painter.save()
        super().paintSection(painter, rect, logical)
        painter.restore()
        if not self.sorted or logical != self.sortIndicatorSection():
            return
        down = self.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder
        right, middle = rect.right() - 4, rect.center().y()
        half, height = ARROW_SIZE / 2, ARROW_SIZE // 2 + 1
        top, bottom = middle - height / 2, middle + height / 2
        tip, base = (bottom, top) if down else (top, bottom)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self.palette().text())
        painter.drawPolygon(QPolygonF([QPointF(right - ARROW_SIZE, base), QPointF(right, base),
                                       QPointF(right - half, tip)]))
        painter.restore()

    # -- which columns show ----------------------------------------------------------------------
    def apply_columns(self) -> None:
        """Hide or show every column as the reader chose, else as its default."""
        shown, hidden = settings_list(self._settings, COLUMNS_SHOWN_KEY), settings_list(self._settings, COLUMNS_HIDDEN_KEY)
        for column, key in enumerate(self._keys()):
            hide = key not in self._fixed and (key in hidden or (key not in shown and self._hidden_by_default(key)))
            self.setSectionHidden(column, hide)

    def set_column_shown(self, key: str, shown: bool) -> None:
        """Show or hide the column of `key` and remember the choice."""
        if key in self._fixed:
            return
        keep = {name: [k for k in settings_list(self._settings, name) if k != key]
                for name in (COLUMNS_SHOWN_KEY, COLUMNS_HIDDEN_KEY)}
        keep[COLUMNS_SHOWN_KEY if shown else COLUMNS_HIDDEN_KEY].append(key)
        if self._settings is not None:
            for name, keys in keep.items():
                self._settings.setValue(name, keys)
        self.setSectionHidden(self._keys().index(key), not shown)

    def _popup_menu(self, pos: QPoint) -> None:
        menu = self.column_menu()
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.popup(self.mapToGlobal(pos))

    def column_menu(self) -> QMenu:
        """A checkable entry per column that can be hidden."""
        menu = QMenu(self)
        for column, key in enumerate(self._keys()):
            if key in self._fixed:
                continue
            action = QAction(self._title(column), menu, checkable=True, checked=not self.isSectionHidden(column))
            action.setData(key)
            action.toggled.connect(lambda shown, k=key: self.set_column_shown(k, shown))
            menu.addAction(action)
        return menu

    def section_at(self, column: int) -> QPoint:
        """The middle of `column`'s header, in viewport coordinates (for clicks)."""
        return QPoint(self.sectionViewportPosition(column) + self.sectionSize(column) // 2, self.height() // 2)
