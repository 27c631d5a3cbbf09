"""Constructors for the registered operators: `drift.SinkhornDrift(temperature=0.05)` writes the
RON value `{"sinkhorn_drift": (temperature: 0.05)}` and loads it, so it is the same object a RON
file gives, validated with the same errors."""

from __future__ import annotations

import inspect
from typing import Callable, Dict

from . import _registry, _ron
from ._operator import Operator, from_ron

# `implicit_some` lets an optional parameter be written as its value (`epsilon_scaling: 0.5`)
# rather than `Some(0.5)`, as a Python caller writes it.
HEADER = "#![enable(implicit_some)]\n"


class _Default:
    """A parameter left at its default; shows the default in `help()`."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def class_name(name: str) -> str:
    """`sinkhorn_drift` -> `SinkhornDrift`."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def ron_text(entry: _registry.Entry, kwargs: Dict[str, object]) -> str:
    """The RON value of `entry` with the given fields."""
    hints = {p.name: p.type for p in entry.params}
    fields = []
    for key, v in kwargs.items():
        if isinstance(v, _Default):
            continue
        hint = hints.get(key) or _ron.FIELD_KINDS.get(key)
        fields.append(f"{key}: {_ron.value(v, hint, key)}")
    return HEADER + '{"%s": (%s)}' % (entry.name, ", ".join(fields))


def make(entry: _registry.Entry) -> Callable[..., Operator]:
    """The constructor of one registered operator."""
    name = class_name(entry.name)

    def constructor(**kwargs: object) -> Operator:
        return from_ron(ron_text(entry, kwargs), f"drift.{name}")

    constructor.__name__ = constructor.__qualname__ = name
    constructor.__module__ = "drift"
    params_doc = "\n".join(
        f"    {p.name}: {p.type}" + (f" = {p.default}" if p.default else " (required)")
        for p in entry.params
    )
    constructor.__doc__ = (
        f"{entry.summary}.\n\n"
        f"Builds the operator `{entry.name}` from keyword arguments, exactly as the RON file\n"
        f"`{{\"{entry.name}\": (...)}}` would, and validates it (errors raise drift.SpecError).\n\n"
        f"Parameters (RON types):\n{params_doc or '    (none)'}\n\n"
        f"Kernels, couplings and weightings are given by name (`kernel=\"gaussian\"`) or as\n"
        f"`{{name: {{field: value}}}}`; operators as drift.Operator objects; structs as dicts;\n"
        f"`drift.Ron(text)` inserts RON text as it is.\n\n"
        f"Example RON: {entry.example}\n"
    )
    constructor.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(
                p.name,
                inspect.Parameter.KEYWORD_ONLY,
                default=_Default(p.default) if p.default else inspect.Parameter.empty,
            )
            for p in entry.params
            if p.name.isidentifier()
        ]
    )
    return constructor


def all_constructors() -> Dict[str, Callable[..., Operator]]:
    """A constructor for every registered operator, by class name."""
    return {class_name(e.name): make(e) for e in _registry.operators()}
