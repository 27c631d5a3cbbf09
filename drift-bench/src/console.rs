//! What the commands print, to a reader that may leave early.
//!
//! When standard output is a pipe whose reader has exited (`drift-bench apply ... | head -1`),
//! writes fail with `BrokenPipe`. Nobody is left to read them, so [`Console`] drops them from then
//! on instead of failing: printing never decides whether a result is written or which status a
//! command exits with. Any other write error is still an error.

use std::io::{self, Write};

/// A writer that turns a closed pipe into a sink.
pub struct Console<W> {
    inner: W,
    closed: bool,
}

impl<W: Write> Console<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        Console {
            inner,
            closed: false,
        }
    }

    fn lenient(&mut self, result: io::Result<()>) -> io::Result<()> {
        match result {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            other => other,
        }
    }
}

impl<W: Write> Write for Console<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.closed {
            return Ok(buf.len());
        }
        let result = self.inner.write_all(buf);
        self.lenient(result).map(|()| buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        let result = self.inner.flush();
        self.lenient(result)
    }
}
