"""The registry of every linked kernel, coupling, weighting and operator, with parameters."""

from __future__ import annotations

from typing import List, NamedTuple, Optional

from . import _drift


class Param(NamedTuple):
    """One parameter of a registered name, as the registry writes it (`kernel: Kernel = laplace`)."""

    name: str
    """The field name."""
    type: str
    """Its type (`f64`, `usize`, `Kernel`, `[Operator]`, `gaussian|laplace`, ...)."""
    default: Optional[str]
    """Its default as RON text, or None when it must be given."""


class Entry(NamedTuple):
    """One registered name, as `drift-bench list --examples` prints it."""

    kind: str
    """`kernel`, `coupling`, `weighting` or `operator`."""
    name: str
    """The name RON files use (`sinkhorn_drift`)."""
    summary: str
    """One line saying what it is."""
    params: List[Param]
    """Its parameters, parsed from `params_text`."""
    params_text: str
    """Its parameters as the registry writes them (`name: type = default, ...`)."""
    example: str
    """A complete, valid RON value of it."""


def _split_top(text: str, sep: str) -> List[str]:
    """`text` split on `sep` outside brackets."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(text):
        c = text[i]
        if c in "([{<":
            depth += 1
        elif c in ")]}>":
            depth -= 1
        elif depth == 0 and text.startswith(sep, i):
            parts.append(text[start:i])
            start = i + len(sep)
            i = start
            continue
        i += 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def parse_params(text: str) -> List[Param]:
    """The parameters of a registry line: `temperature: f64, kernel: Kernel = laplace`."""
    params = []
    for piece in _split_top(text, ","):
        name, _, rest = piece.partition(":")
        typed = _split_top(rest, " = ")
        ty = typed[0] if typed else ""
        # `f64 (= 2 sigma^2)` and `f64 >= 1` are types with a note.
        params.append(Param(name.strip(), ty, typed[1] if len(typed) > 1 else None))
    return params


def entries(kind: Optional[str] = None) -> List[Entry]:
    """Every registered name (of one kind if given), sorted by kind then name."""
    out = []
    for k, name, summary, params, example in _drift.registry_entries():
        if kind is None or k == kind:
            out.append(Entry(k, name, summary, parse_params(params), params, example))
    return out


def operators() -> List[Entry]:
    """Every registered drift operator (operators and compositions) with its summary, parameters
    and an example RON value."""
    return entries("operator")


def kernels() -> List[Entry]:
    """Every registered kernel with its summary, parameters and an example RON value."""
    return entries("kernel")


def couplings() -> List[Entry]:
    """Every registered coupling with its summary, parameters and an example RON value."""
    return entries("coupling")


def weightings() -> List[Entry]:
    """Every registered row weighting with its summary, parameters and an example RON value."""
    return entries("weighting")
