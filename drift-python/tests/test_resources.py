"""A long call answers Ctrl-C at once, and an input too large to copy raises MemoryError instead of
killing the interpreter."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import drift

# A call of many seconds: a Sinkhorn drift held to 2000 iterations (tolerance 0) on 4096 points.
LONG_CALL = textwrap.dedent(
    """
    import signal, sys, time
    import numpy as np
    import drift
    # Python's own Ctrl-C handler even where the parent ignores SIGINT (a background job of a
    # non-interactive shell does, and a child inherits it).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    op = drift.load('{"sinkhorn_drift": (temperature: 0.05, sinkhorn: (max_iters: 2000, tol: 0.0))}')
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(4096, 2)), rng.normal(size=(4096, 2)) + 1.0
    print("started", flush=True)
    start = time.monotonic()
    try:
        op(x, y)
        print("finished %.1f" % (time.monotonic() - start), flush=True)
    except KeyboardInterrupt:
        print("interrupted %.1f" % (time.monotonic() - start), flush=True)
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a subprocess is POSIX")
def test_ctrl_c_interrupts_a_long_call_at_once():
    env = dict(os.environ)
    proc = subprocess.Popen(
        [sys.executable, "-c", LONG_CALL],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout.readline().strip() == "started"
        time.sleep(1.0)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
        answered = time.monotonic() - sent
    finally:
        proc.kill()
    assert out.startswith("interrupted"), (out, err)
    # Answered within a few seconds, not when the call would have ended (tens of seconds).
    assert answered < 3.0, answered


def test_a_broadcast_array_too_large_to_copy_raises_memory_error():
    op = drift.load('{"one_sided": (temperature: 0.1)}')
    # 10^11 rows that take no memory of their own: a copy would need 1.6 TB.
    x = np.broadcast_to(np.zeros((1, 2)), (10**11, 2))
    with pytest.raises(MemoryError, match=r"`x` of shape \(100000000000, 2\) has too many values"):
        op(x, np.ones((4, 2)))
    # The interpreter lives on and the operator still works.
    v = op(np.zeros((3, 2)), np.ones((4, 2)))
    assert v.shape == (3, 2) and np.all(np.isfinite(v))
