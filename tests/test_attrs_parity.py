"""The attrs classes of the compiled modules behave the same in both builds.

Run on the interpreted build and on the compiled one (`python3 dev.py --compiled test`). Of a
slotted attrs class, mypyc keeps only the __init__ that attrs writes: its __eq__, __hash__ and
frozen __setattr__ would be gone, compiled. So a value in a compiled module is declared without
slots and frozen by on_setattr (gameserver.world.Rules says why), and every other attrs class
there compares by identity and takes assignments, in both builds alike.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import inspect
import os
from collections.abc import Callable
from types import ModuleType
from typing import Any

import attr
import pytest

from gameserver.replication import Frame, View
from gameserver.tick import ManualClock
from gameserver.world import Rules

# dev.py names the modules that mypyc compiles (it is a script, not a package: imported by name)
COMPILED_MODULES: tuple[str, ...] = importlib.import_module("dev").COMPILED_MODULES
MODULES = [importlib.import_module(path.removesuffix(".py").replace("/", ".")) for path in COMPILED_MODULES]

# The values: frozen, equal by value and hashed by value. Each: two equal instances made apart,
# one that differs, and a field with another value to try to assign.
VALUES: dict[type, tuple[Callable[[], Any], Callable[[], Any], str, Any]] = {
    Rules: (lambda: Rules(speed=200.0, view_width=400.0), lambda: Rules(speed=100.0), "speed", 5.0),
    View: (lambda: View(10, 20, 30, 40), lambda: View(10, 20, 30, 41), "half_w_in", 0),
}
# Frozen, and compared by identity (comparing two frames' rows would cost a pass over them)
FROZEN_BY_IDENTITY: dict[type, tuple[Callable[[], Any], str, Any]] = {
    Frame: (lambda: Frame(tick=3, rows={1: (0, 0, 1, "a", 0, 100)}), "rows", {}),
}


def _attrs_classes(module: ModuleType) -> list[type]:
    return [
        cls
        for cls in vars(module).values()
        if inspect.isclass(cls) and cls.__module__ == module.__name__ and attr.has(cls)
    ]


ALL_CLASSES = [cls for module in MODULES for cls in _attrs_classes(module)]
PLAIN = [cls for cls in ALL_CLASSES if cls not in VALUES and cls not in FROZEN_BY_IDENTITY]


def test_the_modules_are_those_of_the_build_that_runs() -> None:
    """Compiled (dev.py --compiled sets GAMESERVER_BUILD), every module is a C extension; else
    every one is its source: the other tests here check the build that runs."""
    compiled = os.environ.get("GAMESERVER_BUILD") == "compiled"
    for module in MODULES:
        path = module.__file__ or ""
        is_extension = path.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))
        assert is_extension == compiled, (module.__name__, path)


def test_every_value_and_frozen_class_is_an_attrs_class_of_a_compiled_module() -> None:
    assert {*VALUES, *FROZEN_BY_IDENTITY} <= set(ALL_CLASSES)
    assert ManualClock in PLAIN and len(PLAIN) >= 8  # Entity, World, Replicator, Room, Member, ...


@pytest.mark.parametrize("cls", list(VALUES), ids=lambda cls: cls.__name__)
def test_a_value_is_equal_and_hashed_by_value(cls: type) -> None:
    make, make_other, _, _ = VALUES[cls]
    a, b, other = make(), make(), make_other()
    assert a is not b and a == b and not a != b and hash(a) == hash(b)
    assert a != other and not a == other
    assert attr.evolve(other, **attr.asdict(a, recurse=False)) == a
    assert repr(a).startswith(f"{cls.__name__}(")  # attrs' repr, kept with its other methods


@pytest.mark.parametrize("cls", [*VALUES, *FROZEN_BY_IDENTITY], ids=lambda cls: cls.__name__)
def test_a_frozen_class_refuses_assignment(cls: type) -> None:
    if cls in VALUES:
        make, _, field, value = VALUES[cls]
    else:
        make, field, value = FROZEN_BY_IDENTITY[cls]
    obj = make()
    before = getattr(obj, field)
    with pytest.raises(attr.exceptions.FrozenError):
        setattr(obj, field, value)
    assert getattr(obj, field) == before


@pytest.mark.parametrize("cls", list(FROZEN_BY_IDENTITY), ids=lambda cls: cls.__name__)
def test_a_frozen_class_by_identity_is_equal_only_to_itself(cls: type) -> None:
    make = FROZEN_BY_IDENTITY[cls][0]
    a, b = make(), make()
    assert a == a and a != b and hash(a) != hash(b)


@pytest.mark.parametrize("cls", PLAIN, ids=lambda cls: f"{cls.__module__}.{cls.__name__}")
def test_every_other_class_compares_by_identity_and_takes_assignments(cls: type) -> None:
    """No __eq__, __hash__ or __setattr__ of its own: what the compiled build keeps anyway. A
    new class that needs them goes to VALUES, declared as Rules is."""
    for name in ("__eq__", "__ne__", "__hash__", "__setattr__", "__delattr__"):
        assert getattr(cls, name) is getattr(object, name), name


def test_a_plain_class_behaves_so() -> None:
    a, b = ManualClock(1.0), ManualClock(1.0)
    assert a != b and a == a and hash(a) != hash(b)
    a.now = 2.0
    assert a() == 2.0
