//! The limits a sandboxed child runs under, set in the child between `fork` and `exec`: CPU
//! seconds, address space, open files and processes (`setrlimit`), and no new privileges. This is
//! the crate's one use of `unsafe` (`pre_exec`); it must stay a few system calls that neither
//! allocate nor take a lock.
#![allow(unsafe_code)]

use rustix::process::{Resource, Rlimit, setrlimit};

/// The resource limits of one external run, each applied as both the soft and the hard limit,
/// so the child cannot raise them again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// CPU time, in seconds (the kernel sends SIGXCPU, then SIGKILL, past it).
    pub cpu_seconds: u64,
    /// Address space, in bytes.
    pub address_space: u64,
    /// Open file descriptors.
    pub open_files: u64,
    /// Processes and threads of the user (the kernel counts every process of the uid).
    pub processes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self { cpu_seconds: 3600, address_space: 4 << 30, open_files: 4096, processes: 4096 }
    }
}

/// Makes `command` apply `limits` and set no-new-privileges in the child before it executes.
pub(crate) fn apply(command: &mut tokio::process::Command, limits: Limits) {
    let set = move || -> std::io::Result<()> {
        for (resource, value) in [
            (Resource::Cpu, limits.cpu_seconds),
            (Resource::As, limits.address_space),
            (Resource::Nofile, limits.open_files),
            (Resource::Nproc, limits.processes),
        ] {
            setrlimit(resource, Rlimit { current: Some(value), maximum: Some(value) })?;
        }
        // A set-uid binary reached from the tool gains nothing (bubblewrap sets this too).
        rustix::thread::set_no_new_privs(true)?;
        Ok(())
    };
    // SAFETY: the closure runs in the forked child before `exec`, where only async-signal-safe
    // work is allowed. It makes raw system calls only (`setrlimit`, `prctl`), through rustix's
    // direct system-call backend: no allocation, no lock, no access to state shared with the
    // parent's other threads; its error is an OS error code (`io::Error`'s raw form, no allocation).
    unsafe {
        command.pre_exec(set);
    }
}
