//! Runs a child process and measures what it cost: wall time, CPU time (user + system) and peak
//! resident memory, read on Linux from `/proc/<pid>` while it runs and, for the CPU, after it
//! exited but before it is reaped (`waitid` with `WNOWAIT` leaves it waitable, so its `stat`
//! still holds its times). Safe code only: rustix wraps the system call.

use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use rustix::process::{Pid, WaitId, WaitIdOptions, waitid};

/// What a child process cost.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Usage {
    pub(crate) status: ExitStatus,
    pub(crate) wall: Duration,
    /// User plus system time; `None` where `/proc` could not tell.
    pub(crate) cpu: Option<Duration>,
    /// The high-water mark of its resident set (`VmHWM`), sampled every few milliseconds.
    pub(crate) peak_rss: Option<u64>,
}

/// Runs `command` to its end and measures it. Its standard streams are the caller's to set.
pub(crate) fn run(command: &mut Command) -> Usage {
    let started = Instant::now();
    let mut child = command.spawn().expect("the child starts");
    let pid = i32::try_from(child.id())
        .ok()
        .and_then(Pid::from_raw)
        .expect("a valid pid");
    let mut peak_rss = None;
    let cpu = loop {
        if let Some(rss) = high_water_mark(pid) {
            peak_rss = Some(rss);
        }
        let exited = waitid(
            WaitId::Pid(pid),
            WaitIdOptions::EXITED | WaitIdOptions::NOWAIT | WaitIdOptions::NOHANG,
        )
        .expect("waitid");
        if exited.is_some() {
            break cpu_time(pid);
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let wall = started.elapsed();
    let status = child.wait().expect("the child is reaped");
    Usage {
        status,
        wall,
        cpu,
        peak_rss,
    }
}

/// `VmHWM` of `/proc/<pid>/status`, in bytes.
fn high_water_mark(pid: Pid) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid.as_raw_pid())).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// `utime + stime` of `/proc/<pid>/stat`.
fn cpu_time(pid: Pid) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.as_raw_pid())).ok()?;
    // The command name may hold spaces: the fields start after its closing parenthesis.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // Fields 14 and 15 of stat(5), counted from 1 with pid and comm first.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    let ticks = rustix::param::clock_ticks_per_second().max(1);
    Some(Duration::from_secs_f64(
        (utime + stime) as f64 / ticks as f64,
    ))
}

/// `12.3 MB`.
pub(crate) fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}
