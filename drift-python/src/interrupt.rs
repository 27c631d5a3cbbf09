//! Ctrl-C during a long call. Python runs its signal handlers (raising `KeyboardInterrupt`) only
//! between bytecodes of the main thread, so a call that computes for a minute in Rust would answer
//! Ctrl-C only when it ends. A call large enough to take a while therefore computes on a thread of
//! its own while the calling thread waits, checking for signals every [`POLL`]; on Ctrl-C the call
//! raises `KeyboardInterrupt` at once.
//!
//! The engine has no point where it could stop midway, so the abandoned computation runs on to its
//! end in the background (its result dropped), keeping the CPU busy until then; the interpreter is
//! free at once, and exiting it ends the computation with the process.

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use std::sync::mpsc::{channel, RecvTimeoutError};
use std::sync::Mutex;
use std::time::Duration;

/// How often the waiting thread checks for signals.
const POLL: Duration = Duration::from_millis(50);

/// Point pairs (`N · (M + N) · D`) from which a call computes on a thread of its own: below, a call
/// takes milliseconds, and the thread would cost more than it is worth.
pub(crate) const THREADED_FROM: usize = 1 << 22;

/// Runs `work` with the GIL released: inline when `large` is false, else on a thread of its own
/// while this thread checks for signals, raising what a signal handler raises (`KeyboardInterrupt`
/// for Ctrl-C) as soon as it does.
pub(crate) fn run_interruptible<R: Send + 'static>(
    py: Python<'_>,
    large: bool,
    work: impl FnOnce() -> R + Send + 'static,
) -> PyResult<R> {
    if !large {
        return Ok(py.detach(work));
    }
    let (send, receive) = channel();
    std::thread::Builder::new()
        .name("drift-call".into())
        .spawn(move || {
            // The receiver is gone when the call was interrupted: the result is dropped.
            let _ = send.send(work());
        })
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start the call's thread: {e}")))?;
    // Behind a lock only so that a reference to it may cross into the GIL-free wait.
    let receive = Mutex::new(receive);
    let wait = || {
        receive
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .recv_timeout(POLL)
    };
    loop {
        match py.detach(wait) {
            Ok(result) => return Ok(result),
            Err(RecvTimeoutError::Timeout) => py.check_signals()?,
            Err(RecvTimeoutError::Disconnected) => {
                return Err(PyRuntimeError::new_err(
                    "the call's computation stopped without a result (it panicked)",
                ))
            }
        }
    }
}
