"""Every kind of bad input raises the right exception with the command line's message; nothing
crashes the interpreter."""

from __future__ import annotations

import re

import numpy as np
import pytest

import drift

OP = drift.load('{"one_sided": (temperature: 0.1)}')
X, Y = np.zeros((5, 2)), np.ones((6, 2))

BAD_INPUTS = [
    ("empty x", lambda: OP(np.zeros((0, 2)), Y), r"`x` is empty \(shape \(0, 2\)\)"),
    ("3-D x", lambda: OP(np.zeros((2, 2, 2)), Y), r"`x` must have shape \(N, D\) or \(N,\), found shape \(2, 2, 2\)"),
    ("integer x", lambda: OP(np.zeros((5, 2), dtype=np.int64), Y), r"`x` must hold float32 or float64 values, found int64"),
    ("text x", lambda: OP("abc", Y), r"`x` must be an array of numbers"),
    ("text in y", lambda: OP(X, [[1.0, "a"]]), r"`y` must be an array of numbers"),
    ("ragged y", lambda: OP(X, [[1.0, 2.0], [1.0]]), r"`y` cannot be read as an array"),
    ("NaN in x", lambda: OP(np.array([[0.0, np.nan]]), Y), r"point set `x` has a non-finite coordinate NaN at point 0, coordinate 1"),
    ("inf in y", lambda: OP(X, np.array([[1.0, np.inf]])), r"point set `y` has a non-finite coordinate inf at point 0, coordinate 1"),
    ("dimension mismatch", lambda: OP(X[:, :1], Y), r"dimension mismatch: `x` has dimension 1 but `y` has dimension 2"),
    ("negative weight", lambda: OP(X, Y, y_weights=-np.ones(6)), r"`y_weights`: point set `y` has an invalid weight -1 at point 0 \(weights must be finite and >= 0\)"),
    ("weight count", lambda: OP(X, Y, y_weights=np.ones(5)), r"`y_weights`: 5 weights for the 6 points of `y`"),
    ("2-D weights", lambda: OP(X, Y, x_weights=np.ones((5, 2))), r"`x_weights` must be one-dimensional, shape \(N,\), found shape \(5, 2\)"),
    ("zero weights", lambda: OP(X, Y, x_weights=np.zeros(5)), r"`x_weights`: the weights of point set `x` sum to zero"),
    ("negatives ignored", lambda: drift.load('{"sliced_wasserstein": ()}')(X, Y, negatives=Y), r"operator `sliced_wasserstein` does not handle guidance negatives"),
    ("negatives dimension", lambda: OP(X, Y, negatives=np.ones((3, 3))), r"dimension mismatch: `x` has dimension 2 but `negatives` has dimension 3"),
    ("time", lambda: OP(X, Y, time=float("nan")), r"time NaN: must be finite"),
    ("negative step", lambda: OP(X, Y, step=-1), r"step -1: must be an integer >= 0"),
    ("fractional step", lambda: OP(X, Y, step=1.5), r"step 1.5: must be an integer >= 0"),
    ("negative weight of negatives", lambda: OP(X, Y, negatives=Y, negative_weight=-1), r"negative_weight -1: must be finite and >= 0"),
    ("temperature too small for the data", lambda: drift.load('{"sinkhorn_drift": (temperature: 1e-300)}')(np.array([[0.0, 0.0], [1e10, 0.0]]), np.array([[5e9, 1.0]])), r"is too small for data of squared diameter .* the log-weights overflow F64"),
    ("load of a number", lambda: drift.load(3), r"drift.load takes a path or RON text, got int"),
    ("constructor value", lambda: drift.OneSided(temperature=object()), r"`temperature`: cannot write a object in RON"),
]


@pytest.mark.parametrize("call,message", [(c, m) for _, c, m in BAD_INPUTS], ids=[n for n, _, _ in BAD_INPUTS])
def test_bad_input_raises_value_error_with_its_message(call, message):
    with pytest.raises(ValueError) as e:
        call()
    assert not isinstance(e.value, drift.SpecError)
    assert re.search(message, str(e.value)), str(e.value)


BAD_SPECS = [
    ("syntax", '{"one_sided": (temperature: 0.1', 1, 32, r"Unexpected end of RON"),
    ("unknown operator", '{"one_sidd": (temperature: 0.1)}', 1, 2, r'unknown operator "one_sidd"; the known operators are "annealed", '),
    ("unknown field", '{"one_sided": (\n  temprature: 0.1)}', 2, 13, r"Unexpected field named `temprature`, expected one of `kernel`, `temperature`, `mask_self`"),
    ("missing field", '{"one_sided": ()}', 1, 16, r"Unexpected missing field `temperature`"),
    ("bad value", '{"sum": (operators: [\n  {"one_sided": (temperature: 0.1)},\n  {"mmd": (temperature: -2.0)}])}', 3, 12, r"temperature `.*` must be finite and > 0, got -2"),
    ("unknown kernel", '{"one_sided": (temperature: 0.1, kernel: {"gausian": ()})}', 1, 43, r'unknown kernel "gausian"; the known kernels are "gaussian"'),
]


@pytest.mark.parametrize("text,line,column,message", [s[1:] for s in BAD_SPECS], ids=[s[0] for s in BAD_SPECS])
def test_bad_ron_raises_spec_error_with_its_location(text, line, column, message):
    with pytest.raises(drift.SpecError) as e:
        drift.load(text)
    err = e.value
    assert isinstance(err, ValueError)
    assert (err.file, err.line, err.column) == ("<string>", line, column), str(err)
    assert re.search(message, err.message), err.message
    assert str(err) == f"<string>:{line}:{column}: {err.message}"


def test_spec_errors_of_files_name_the_file(tmp_path):
    missing = tmp_path / "missing.ron"
    with pytest.raises(drift.SpecError) as e:
        drift.load(missing)
    assert (e.value.file, e.value.line, e.value.column) == (str(missing), 0, 0)
    assert e.value.message.startswith("cannot read the file")
    bad = tmp_path / "bad.ron"
    bad.write_bytes(b'{"one_sided": (temperature: 0.1\xff)}')
    with pytest.raises(drift.SpecError) as e:
        drift.load(str(bad))
    assert (e.value.line, e.value.column, e.value.message) == (1, 32, "the file is not valid UTF-8")
    neg = tmp_path / "neg.ron"
    neg.write_text('{"one_sided": (\n    temperature: -1.0,\n)}')
    with pytest.raises(drift.SpecError, match=r"neg.ron:2:5: temperature `one_sided.temperature` must be finite and > 0, got -1"):
        drift.load(neg)


def test_constructor_errors_are_spec_errors():
    with pytest.raises(drift.SpecError, match=r"must be finite and > 0, got inf") as e:
        drift.SinkhornDrift(temperature=float("inf"))
    assert e.value.file == "drift.SinkhornDrift"
    with pytest.raises(drift.SpecError, match=r"Unexpected field named `temprature`"):
        drift.OneSided(temprature=1.0)
    with pytest.raises(drift.SpecError, match=r'unknown kernel "gausian"'):
        drift.OneSided(temperature=0.1, kernel="gausian")
