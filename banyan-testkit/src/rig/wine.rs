//! Windows programs (the `.exe` files of `scripts/windows-build.sh`) run under Wine from Linux
//! tests: [`windows_bins`] finds them, [`WindowsBins::command`] makes the command a
//! [`ChildGuard`](crate::ChildGuard) then spawns, captures and ends by PID as any other;
//! [`running`] finds what a Windows program left running (read from `/proc`, never killed).
//!
//! Under Wine a Windows program *is* the Linux process that `wine64 prog.exe` starts (the
//! loader replaces itself), so the guard's PID is the program's: killing it ends the
//! program, and SIGINT reaches it as Ctrl-C (Wine hands SIGINT to the console control
//! handlers, as Windows does Ctrl-C). Wine's own helpers (`wineserver`, `services.exe`, …)
//! belong to the prefix, not to a test: the CI step starts the prefix's wineserver once and
//! ends it with `wineserver -k` (`.ci/steps.d/40-windows.sh`).
//!
//! The environment: `BANYAN_WINDOWS_BIN` names the directory of the `.exe` files (CI sets
//! it); without it the tests print why they skip. `BANYAN_WINE` may name the Wine loader
//! (default `/usr/lib/wine/wine64`, Debian's; plain `wine` wants 32-bit packages);
//! `WINEPREFIX` is passed through.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The variable naming the directory of the Windows `.exe` files.
pub const WINDOWS_BIN_ENV: &str = "BANYAN_WINDOWS_BIN";

/// Debian's 64-bit Wine loader.
pub const DEFAULT_WINE: &str = "/usr/lib/wine/wine64";

/// The Windows binaries and the Wine to run them with.
#[derive(Debug, Clone)]
pub struct WindowsBins {
    dir: PathBuf,
    wine: PathBuf,
}

/// The Windows binaries for test `test`, if [`WINDOWS_BIN_ENV`] names them. `None` (after
/// printing why the test skips) when it is not set. **Panics** (fails the test) when it is set
/// but the directory or Wine is missing: a run that asked for Windows must not pass without.
pub fn windows_bins(test: &str) -> Option<WindowsBins> {
    let Some(dir) = std::env::var_os(WINDOWS_BIN_ENV).filter(|dir| !dir.is_empty()) else {
        eprintln!(
            "skipping {test}: {WINDOWS_BIN_ENV} is not set (build the .exe files with \
             scripts/windows-build.sh, then set {WINDOWS_BIN_ENV}=target/windows; \
             .ci/steps.d/40-windows.sh does both)"
        );
        return None;
    };
    let mut dir = PathBuf::from(dir);
    if dir.is_relative() {
        dir = crate::repo_root().join(dir);
    }
    assert!(
        dir.join("backplane.exe").is_file(),
        "{WINDOWS_BIN_ENV}={} holds no backplane.exe (run scripts/windows-build.sh)",
        dir.display()
    );
    let wine = std::env::var_os("BANYAN_WINE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_WINE));
    assert!(
        wine.is_file(),
        "{} not found: apt-get install wine64 (or set BANYAN_WINE)",
        wine.display()
    );
    Some(WindowsBins { dir, wine })
}

impl WindowsBins {
    /// The path of `name.exe`.
    pub fn exe(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.exe"))
    }

    /// `wine64 name.exe` with Wine's 64-bit prefix and its debug output off.
    pub fn command(&self, name: &str) -> Command {
        let mut command = Command::new(&self.wine);
        command.arg(self.exe(name));
        command.env("WINEARCH", "win64");
        if std::env::var_os("WINEDEBUG").is_none() {
            command.env("WINEDEBUG", "-all");
        }
        command
    }

    /// The directory of the `.exe` files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `path` as a Windows program under Wine names it: drive `Z:` is the Linux root, with
    /// backslashes (`/work/x.exe` → `Z:\work\x.exe`).
    pub fn windows_path(path: &Path) -> String {
        let absolute = if path.is_absolute() {
            path.to_path_buf()
        } else {
            std::env::current_dir()
                .map(|dir| dir.join(path))
                .unwrap_or_else(|_| path.to_path_buf())
        };
        format!("Z:{}", absolute.display()).replace('/', "\\")
    }
}

/// Linux processes (Wine runs each Windows process as one) whose command line holds every
/// one of `needles`. Only read, to check that nothing was left behind.
pub fn running(needles: &[&str]) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|entry| {
        let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let zombie = stat.rsplit(')').next()?.split_whitespace().next() == Some("Z");
        (!zombie && needles.iter().all(|needle| cmdline.contains(needle))).then_some(pid)
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linux_paths_are_named_through_drive_z() {
        assert_eq!(
            WindowsBins::windows_path(Path::new("/work/target/windows/bls.exe")),
            r"Z:\work\target\windows\bls.exe"
        );
    }
}
