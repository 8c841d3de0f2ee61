//! A server process tied to the test process's life.
//!
//! The server runs under a tiny `sh` guard that holds the read end of a pipe from us: when the
//! test process ends for any reason (even a panic with a `static` server that is never dropped),
//! the pipe closes, `read` returns, and the guard kills the server. Stopping on purpose is the
//! same move: close the pipe and reap the guard.

use std::io;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};

/// How the guard ends the server.
#[derive(Clone, Copy)]
pub enum StopSignal {
    /// SIGKILL: instant; the crash case (InfluxDB's graceful stop takes seconds).
    Kill,
    /// SIGTERM: lets Mosquitto write its persistence file.
    Term,
}

/// A running server process.
pub struct Daemon {
    guard: Child,
    pipe: Option<ChildStdin>,
}

impl Daemon {
    /// Starts `program args…` with stdout and stderr appended to `log`.
    pub fn spawn(program: &str, args: &[&str], log: &Path, stop: StopSignal) -> io::Result<Self> {
        let sig = match stop {
            StopSignal::Kill => "KILL",
            StopSignal::Term => "TERM",
        };
        let script = format!(
            "\"$@\" >>\"$LOG\" 2>&1 </dev/null & p=$!; read _ ; kill -{sig} $p 2>/dev/null; wait $p; exit 0"
        );
        let mut guard = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg("guard")
            .arg(program)
            .args(args)
            .env("LOG", log)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let pipe = guard.stdin.take();
        Ok(Self { guard, pipe })
    }

    /// Sends `signal` (a `kill` signal name: `STOP`, `CONT`…) to the server.
    pub fn signal(&self, signal: &str) {
        let sent = Command::new("pkill")
            .arg(format!("-{signal}"))
            .arg("-P")
            .arg(self.guard.id().to_string())
            .status();
        assert!(sent.is_ok_and(|s| s.success()), "SIG{signal} not delivered");
    }

    /// Stops the server and waits until it has exited.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if self.pipe.take().is_some() {
            let _ = self.guard.wait();
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.shutdown();
    }
}
