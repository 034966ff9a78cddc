"""libgphoto2-style configuration widgets for the simulated camera.

:class:`SimWidget` implements the :class:`camera_node.backends.gpcamera.GPWidget` protocol
the way libgphoto2 does: ``set_value`` marks a widget changed only when the value differs
from what it holds, and the camera applies only changed widgets.  That is the root of the
Canon ``manualfocusdrive`` quirk: setting the value it already holds does nothing unless
"None" is set in between.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from camera_node.backends.gpcamera import (
    GP_ERROR_BAD_PARAMETERS,
    GP_WIDGET_RADIO,
    GP_WIDGET_RANGE,
    GP_WIDGET_SECTION,
    GP_WIDGET_TEXT,
    GP_WIDGET_TOGGLE,
    GP_WIDGET_WINDOW,
    GPError,
)


class SimWidget:
    """One node of a configuration tree."""

    def __init__(
        self,
        name: str,
        label: str,
        wtype: int,
        value: Any = None,
        *,
        readonly: bool = False,
        choices: Sequence[str] = (),
        rng: tuple[float, float, float] | None = None,
    ) -> None:
        self._name = name
        self._label = label
        self._type = wtype
        self._value = value
        self._readonly = readonly
        self._choices = tuple(choices)
        self._range = rng
        self._children: list[SimWidget] = []
        self._parent: SimWidget | None = None
        self._changed = False

    # -- the GPWidget protocol ------------------------------------------------------------
    def get_name(self) -> str:
        return self._name

    def get_label(self) -> str:
        return self._label

    def get_type(self) -> int:
        return self._type

    def get_readonly(self) -> int:
        return int(self._readonly)

    def get_value(self) -> Any:
        if self._type in (GP_WIDGET_WINDOW, GP_WIDGET_SECTION):
            raise GPError(GP_ERROR_BAD_PARAMETERS, "a window or section has no value")
        return self._value

    def set_value(self, value: Any) -> None:
        if self._type in (GP_WIDGET_WINDOW, GP_WIDGET_SECTION):
            raise GPError(GP_ERROR_BAD_PARAMETERS, "a window or section has no value")
        if self._type in (GP_WIDGET_TEXT, GP_WIDGET_RADIO):
            if not isinstance(value, str):
                raise TypeError(f"{self._name}: expected str, got {type(value).__name__}")
        elif self._type == GP_WIDGET_TOGGLE:
            value = int(value)
        elif self._type == GP_WIDGET_RANGE:
            value = float(value)
        if value != self._value:
            self._value = value
            self._changed = True

    def count_choices(self) -> int:
        return len(self._choices)

    def get_choice(self, index: int) -> str:
        if not 0 <= index < len(self._choices):
            raise GPError(GP_ERROR_BAD_PARAMETERS, f"{self._name}: no choice {index}")
        return self._choices[index]

    def get_range(self) -> Sequence[float]:
        if self._range is None:
            raise GPError(GP_ERROR_BAD_PARAMETERS, f"{self._name}: not a range widget")
        return self._range

    def count_children(self) -> int:
        return len(self._children)

    def get_child(self, index: int) -> SimWidget:
        if not 0 <= index < len(self._children):
            raise GPError(GP_ERROR_BAD_PARAMETERS, f"{self._name}: no child {index}")
        return self._children[index]

    # -- python-gphoto2 extras ------------------------------------------------------------
    def get_choices(self) -> Iterator[str]:
        return iter(self._choices)

    def get_children(self) -> Iterator[SimWidget]:
        return iter(self._children)

    def get_child_by_name(self, name: str) -> SimWidget:
        found = self.find(name)
        if found is None:
            raise GPError(GP_ERROR_BAD_PARAMETERS, f"no widget named {name!r}")
        return found

    def get_parent(self) -> SimWidget | None:
        return self._parent

    def changed(self) -> int:
        """Like gp_widget_changed: report and clear the changed flag."""
        was, self._changed = self._changed, False
        return int(was)

    def set_changed(self, changed: int) -> None:
        self._changed = bool(changed)

    # -- tree building --------------------------------------------------------------------
    def add(self, child: SimWidget) -> SimWidget:
        child._parent = self
        self._children.append(child)
        return child

    def find(self, name: str) -> SimWidget | None:
        if self._name == name:
            return self
        for c in self._children:
            hit = c.find(name)
            if hit is not None:
                return hit
        return None

    def walk(self) -> Iterator[SimWidget]:
        yield self
        for c in self._children:
            yield from c.walk()

    def path(self) -> str:
        parts: list[str] = []
        node: SimWidget | None = self
        while node is not None and node._parent is not None:
            parts.append(node._name)
            node = node._parent
        return "/" + "/".join(["main", *reversed(parts)])

    def __repr__(self) -> str:
        return f"SimWidget({self._name!r}, value={self._value!r})"
