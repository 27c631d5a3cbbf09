"""Python values as RON text, for the constructors (`drift.SinkhornDrift(temperature=0.05)`)."""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Mapping
from typing import Any, Optional

# The registry's kinds: a value of one of these types is written `{"name": (fields)}`.
KINDS = ("Kernel", "Coupling", "Weighting", "Operator")

# Fields whose name says which kind they hold, inside nested structs (`attraction=dict(kernel=...)`),
# where the registry's parameter lists give no type.
FIELD_KINDS = {
    "kernel": "Kernel",
    "coupling": "Coupling",
    "weighting": "Weighting",
    "operator": "Operator",
    "operators": "[Operator]",
}


class Ron:
    """RON text inserted as it is into a constructor's arguments:
    `drift.OneSided(temperature=0.05, kernel=drift.Ron('{"inverse_multiquadric": (beta: 1.0)}'))`."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        if not isinstance(text, str):
            raise ValueError(f"Ron takes RON text, got {type(text).__name__}")
        self.text = text

    def __repr__(self) -> str:
        return f"Ron({self.text!r})"


def value(v: Any, hint: Optional[str], where: str) -> str:
    """`v` as RON; `hint` is the parameter's type from the registry (`Kernel`, `[Operator]`, `f64`,
    ...) where known, `where` names the parameter in errors."""
    from ._operator import Operator  # the operator class imports this module

    if isinstance(v, Ron):
        return v.text
    if isinstance(v, Operator):
        # Without its extension lines (`#![enable(implicit_some)]`), which RON allows only at
        # the top; the constructor's own header enables implicit_some for the whole text.
        lines = v.ron.strip().splitlines()
        while lines and lines[0].lstrip().startswith("#!["):
            lines.pop(0)
        if not lines:
            raise ValueError(f"`{where}`: this operator has no RON source to embed")
        return "\n".join(lines)
    if v is None:
        return "None"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, numbers.Integral):
        return str(int(v))
    if isinstance(v, numbers.Real):
        x = float(v)
        if math.isnan(x):
            return "NaN"
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        return repr(x)
    kind = hint if hint in KINDS else None
    if isinstance(v, str):
        if kind:
            return "{%s: ()}" % json.dumps(v)
        if v.isidentifier():
            return v
        raise ValueError(f"`{where}`: {v!r} is not a name such as `jensen_shannon`")
    if isinstance(v, Mapping):
        if kind:
            if len(v) != 1:
                raise ValueError(
                    f"`{where}`: a {kind.lower()} is a name or a one-entry dict "
                    f"{{name: {{field: value}}}}, got {len(v)} entries"
                )
            ((name, fields),) = v.items()
            if fields is None:
                fields = {}
            if not isinstance(fields, Mapping):
                raise ValueError(f"`{where}.{name}`: the fields must be a dict")
            return "{%s: %s}" % (json.dumps(str(name)), struct(fields, where))
        return struct(v, where)
    if isinstance(v, (list, tuple)):
        inner = hint[1:-1] if hint and hint.startswith("[") and hint.endswith("]") else None
        return "[" + ", ".join(value(x, inner, f"{where}[{i}]") for i, x in enumerate(v)) + "]"
    raise ValueError(f"`{where}`: cannot write a {type(v).__name__} in RON")


def struct(fields: Mapping, where: str) -> str:
    """A dict of fields as a RON struct `(a: 1, b: 2.0)`."""
    parts = []
    for k, v in fields.items():
        if not (isinstance(k, str) and k.isidentifier()):
            raise ValueError(f"`{where}`: field name {k!r} is not an identifier")
        parts.append(f"{k}: {value(v, FIELD_KINDS.get(k), f'{where}.{k}' if where else k)}")
    return "(" + ", ".join(parts) + ")"
