//! The kernel's resource limits for a child process Moat runs on untrusted input (the OCR
//! engine): set in the child between fork and exec, so they hold whatever the program does
//! with its input, and even if the gateway dies before the child.

use std::io;

/// The limits a child runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChildLimits {
    /// Bytes of address space (`RLIMIT_AS`): allocations beyond fail, so a decoder told to
    /// make an enormous bitmap fails instead of taking the host's memory.
    pub address_space: u64,
    /// Seconds of CPU time (`RLIMIT_CPU`): `SIGXCPU` then, `SIGKILL` a second later. A
    /// backstop for a child that outlives the caller's own deadline.
    pub cpu_seconds: u64,
    /// The largest file it may write (`RLIMIT_FSIZE`); 0 for a child that writes only to
    /// its pipes.
    pub file_size: u64,
}

impl ChildLimits {
    /// Makes `command` set these limits in the child before the program runs, and turn
    /// off core dumps (`RLIMIT_CORE` 0: a child stopped by a limit leaves no core file
    /// holding its input). A limit above the gateway's own hard limit is lowered to it
    /// (raising it needs privileges). The spawn fails if a limit cannot be set.
    pub fn apply_to(self, command: &mut tokio::process::Command) {
        // SAFETY: the closure runs in the forked child before exec; it only calls
        // getrlimit and setrlimit (async-signal-safe system calls) on stack values and
        // allocates nothing.
        unsafe {
            command.pre_exec(move || self.set());
        }
    }

    /// Sets the limits on the calling process.
    fn set(self) -> io::Result<()> {
        lower(libc::RLIMIT_AS, self.address_space, self.address_space)?;
        let cpu = self.cpu_seconds.max(1);
        lower(libc::RLIMIT_CPU, cpu, cpu.saturating_add(1))?;
        lower(libc::RLIMIT_FSIZE, self.file_size, self.file_size)?;
        lower(libc::RLIMIT_CORE, 0, 0)
    }
}

/// Sets `resource` to `soft` and `hard`, each at most the current hard limit.
fn lower(resource: libc::__rlimit_resource_t, soft: u64, hard: u64) -> io::Result<()> {
    let mut current = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit through a valid pointer.
    if unsafe { libc::getrlimit(resource, &mut current) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let limit = libc::rlimit {
        rlim_cur: soft.min(current.rlim_max),
        rlim_max: hard.min(current.rlim_max),
    };
    // SAFETY: setrlimit reads one rlimit through a valid pointer.
    if unsafe { libc::setrlimit(resource, &limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::process::Stdio;

    use super::*;

    #[tokio::test]
    async fn the_child_runs_under_the_limits() {
        let mut command = tokio::process::Command::new("sh");
        command
            .args([
                "-c",
                "echo $(ulimit -v) $(ulimit -t) $(ulimit -f) $(ulimit -c)",
            ])
            .stdout(Stdio::piped());
        ChildLimits {
            address_space: 256 << 20,
            cpu_seconds: 7,
            file_size: 0,
        }
        .apply_to(&mut command);
        let output = command.output().await.unwrap();
        assert!(output.status.success());
        // ulimit -v counts KiB.
        assert_eq!(
            String::from_utf8_lossy(&output.stdout).trim(),
            "262144 7 0 0"
        );
    }
}
