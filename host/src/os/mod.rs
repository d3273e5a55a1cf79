//! The process's footing on its host: files nobody else can read, root given up once the
//! listeners are bound, and the service manager told what the server is doing.
//!
//! * `disk`: the room left on the data dir's file system (`statvfs`).
//! * `limits`: the open-file limit raised to what the listeners need.
//! * `private`: the umask and the modes of the data dir and its files.
//! * `privileges`: switching from root to `[server] user` / `group`.
//! * `systemd`: `sd_notify` (`READY=1`, `RELOADING=1`, `STOPPING=1`, `WATCHDOG=1`).

pub mod disk;
pub mod limits;
pub mod private;
pub mod privileges;
pub mod systemd;
