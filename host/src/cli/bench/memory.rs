//! A process's memory as Linux reports it in `/proc/PID/status`, for the benches that
//! print it.

/// Peak and current resident memory, in bytes.
#[derive(Debug, Clone, Copy)]
pub(super) struct Memory {
    /// The most resident memory so far (`VmHWM`).
    pub(super) peak: u64,
    /// Resident memory now (`VmRSS`).
    pub(super) resident: u64,
}

/// The memory of `process` (a pid, or `self`); `None` without Linux's `/proc`.
pub(super) fn of(process: &str) -> Option<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{process}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
    };
    Some(Memory {
        peak: field("VmHWM:")?,
        resident: field("VmRSS:")?,
    })
}
