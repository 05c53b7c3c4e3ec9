//! The launcher's processes on Windows: each command in a Job Object of its own, so that
//! stopping a launch stops everything it started (the processes a command starts are in its
//! job too), and in a console process group of its own, so that it can be asked to stop.
//!
//! - **Start**: the process is created suspended, put into its job (limit
//!   `KILL_ON_JOB_CLOSE`), then resumed: nothing it starts can escape the job.
//! - **Ask to stop** (where Unix sends SIGTERM): `CTRL_BREAK_EVENT` to its process group, which
//!   Rust Banyan's commands (and Python's `KeyboardInterrupt` handlers on Windows) take as a
//!   stop. A command in a window of its own (`spawn = yes`: a new console) cannot be reached
//!   so; it is killed after the grace period.
//! - **Kill** (SIGKILL): `TerminateJobObject`, which ends every process in the job.
//! - **Leader exited**: its job is closed, which ends whatever it left running (where Unix
//!   asks the group with SIGTERM).
//! - **Launcher gone**: the system closes its job handles, so a launcher that dies without
//!   cleaning up still takes its children along (Linux's `PR_SET_PDEATHSIG`).

use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
use std::os::windows::process::CommandExt;
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus, Stdio};

use windows_sys::Win32::Foundation::{HANDLE, INVALID_HANDLE_VALUE};
use windows_sys::Win32::System::Console::{CTRL_BREAK_EVENT, GenerateConsoleCtrlEvent};
use windows_sys::Win32::System::Diagnostics::ToolHelp::{
    CreateToolhelp32Snapshot, TH32CS_SNAPTHREAD, THREADENTRY32, Thread32First, Thread32Next,
};
use windows_sys::Win32::System::JobObjects::{
    AssignProcessToJobObject, CreateJobObjectW, JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION, JobObjectExtendedLimitInformation,
    SetInformationJobObject, TerminateJobObject,
};
use windows_sys::Win32::System::Threading::{
    CREATE_NEW_CONSOLE, CREATE_NEW_PROCESS_GROUP, CREATE_SUSPENDED, OpenThread, ResumeThread,
    THREAD_SUSPEND_RESUME,
};

/// The exit code of processes the launcher killed (`TerminateJobObject`).
const KILLED: u32 = 1;

/// A launched command and the job holding it and everything it starts.
pub(super) struct Launched {
    child: Child,
    job: OwnedHandle,
}

impl Launched {
    /// The process id (also its console process group's id).
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// As [`Child::try_wait`].
    pub fn try_wait(&mut self) -> std::io::Result<Option<ExitStatus>> {
        self.child.try_wait()
    }

    /// As [`Child::wait`].
    pub fn wait(&mut self) -> std::io::Result<ExitStatus> {
        self.child.wait()
    }
}

/// A new job that kills its processes when its last handle closes.
#[allow(unsafe_code)]
fn new_job() -> std::io::Result<OwnedHandle> {
    // SAFETY: no security attributes and no name (both may be null); the handle returned is
    // owned by us alone and closed by `OwnedHandle`.
    let raw = unsafe { CreateJobObjectW(std::ptr::null(), std::ptr::null()) };
    if raw.is_null() {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `raw` is a valid handle just created, owned by nobody else.
    let job = unsafe { OwnedHandle::from_raw_handle(raw) };
    let mut limits = JOBOBJECT_EXTENDED_LIMIT_INFORMATION::default();
    limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
    // SAFETY: the information points to a live struct of the size given, of the class named.
    let ok = unsafe {
        SetInformationJobObject(
            job.as_raw_handle(),
            JobObjectExtendedLimitInformation,
            (&raw const limits).cast(),
            std::mem::size_of::<JOBOBJECT_EXTENDED_LIMIT_INFORMATION>() as u32,
        )
    };
    if ok == 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(job)
}

/// Resumes every thread of the suspended process `pid` (a process created suspended has one).
#[allow(unsafe_code)]
fn resume(pid: u32) -> std::io::Result<()> {
    // SAFETY: a snapshot of the system's threads; the handle is closed by `OwnedHandle`.
    let raw = unsafe { CreateToolhelp32Snapshot(TH32CS_SNAPTHREAD, 0) };
    if raw == INVALID_HANDLE_VALUE {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a valid handle just created, owned by nobody else.
    let snapshot = unsafe { OwnedHandle::from_raw_handle(raw) };
    let mut entry = THREADENTRY32 {
        dwSize: std::mem::size_of::<THREADENTRY32>() as u32,
        ..Default::default()
    };
    let mut resumed = 0;
    // SAFETY: `entry` is a live THREADENTRY32 whose dwSize is set, as the calls require.
    let mut more = unsafe { Thread32First(snapshot.as_raw_handle(), &mut entry) } != 0;
    while more {
        if entry.th32OwnerProcessID == pid {
            // SAFETY: opening a thread by id; a null handle on failure is checked.
            let thread: HANDLE =
                unsafe { OpenThread(THREAD_SUSPEND_RESUME, 0, entry.th32ThreadID) };
            if !thread.is_null() {
                // SAFETY: a valid handle just opened, owned by nobody else.
                let thread = unsafe { OwnedHandle::from_raw_handle(thread) };
                // SAFETY: resuming a thread through a handle with the right to do so.
                if unsafe { ResumeThread(thread.as_raw_handle()) } != u32::MAX {
                    resumed += 1;
                }
            }
        }
        // SAFETY: as for Thread32First.
        more = unsafe { Thread32Next(snapshot.as_raw_handle(), &mut entry) } != 0;
    }
    if resumed == 0 {
        return Err(std::io::Error::other(format!(
            "no thread of process {pid} could be resumed"
        )));
    }
    Ok(())
}

/// Spawns `argv` (`command` split into words) suspended in a new console process group, puts
/// it into a new job and lets it run. With `window`, in a console window of its own. With
/// `capture`, its stdout and stderr are pipes for [`take_output`].
#[allow(unsafe_code)]
pub(super) fn spawn(
    _command: &str,
    argv: &[String],
    window: bool,
    capture: bool,
) -> std::io::Result<Launched> {
    let job = new_job()?;
    let mut process = Command::new(&argv[0]);
    process.args(&argv[1..]).stdin(Stdio::null());
    if capture {
        super::capture_output(&mut process);
    }
    let console = if window { CREATE_NEW_CONSOLE } else { 0 };
    process.creation_flags(CREATE_SUSPENDED | CREATE_NEW_PROCESS_GROUP | console);
    let mut child = process.spawn()?;
    // SAFETY: both handles are valid for the call: the job's is ours, the process's is the
    // child's, alive until `child` is dropped.
    let assigned =
        unsafe { AssignProcessToJobObject(job.as_raw_handle(), child.as_raw_handle()) } != 0;
    let started = if assigned {
        resume(child.id())
    } else {
        Err(std::io::Error::last_os_error())
    };
    if let Err(error) = started {
        let _ = child.kill();
        let _ = child.wait();
        return Err(error);
    }
    Ok(Launched { child, job })
}

/// The pipes of a child spawned with `capture`.
pub(super) fn take_output(launched: &mut Launched) -> (Option<ChildStdout>, Option<ChildStderr>) {
    (launched.child.stdout.take(), launched.child.stderr.take())
}

/// Asks the command to stop: Ctrl-Break to its console process group.
#[allow(unsafe_code)]
pub(super) fn terminate(launched: Option<&Launched>, _pid: u32) {
    if let Some(launched) = launched {
        // SAFETY: plain call; a group that is gone makes it fail, which is fine (reaped next).
        unsafe { GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT, launched.id()) };
    }
}

/// The command exited: closing its job ends what it left running.
pub(super) fn release(gone: Launched) {
    drop(gone.job);
}

/// Kills every process of the command's job.
#[allow(unsafe_code)]
pub(super) fn kill(launched: &mut Launched) {
    // SAFETY: the job handle is ours and valid.
    unsafe { TerminateJobObject(launched.job.as_raw_handle(), KILLED) };
}

/// How a process ended, for people: `exit code 1`. (Windows has no signals; a process the
/// launcher killed ends with exit code 1.)
pub fn describe_exit(status: ExitStatus) -> String {
    match status.code() {
        Some(code) => format!("exit code {code}"),
        None => status.to_string(),
    }
}
