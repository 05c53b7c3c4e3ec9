//! Process and thread guards end what they started, also when a test panics.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use banyan_testkit::{
    ChildGuard, Error, ThreadGuard, WAIT, free_port, free_port_pair, wait_listening, wait_until,
};

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| !stat.contains(") Z"))
        .unwrap_or(false)
}

fn sh(script: &str) -> Command {
    let mut command = Command::new("sh");
    command.args(["-c", script]);
    command
}

#[test]
fn lines_are_waited_for_and_the_child_is_killed_on_drop() {
    let mut child = ChildGuard::spawn(
        "sh",
        sh("echo hello; echo 'READY 42'; echo oops >&2; sleep 30"),
    )
    .unwrap();
    assert_eq!(child.wait_line("READY").unwrap(), "42");
    assert_eq!(child.wait_stdout("hell").unwrap(), "hello");
    assert_eq!(child.wait_stderr("oops").unwrap(), "oops");
    assert_eq!(child.number_after::<u32>("READY").unwrap(), 42);
    let pid = child.pid();
    assert!(alive(pid));
    drop(child);
    assert!(!alive(pid), "child {pid} survived its guard");
}

#[test]
fn a_group_guard_kills_what_its_child_started() {
    let child = ChildGuard::spawn_group("sh", sh("sleep 30 & echo \"HELPER $!\"; wait")).unwrap();
    let helper: u32 = child.number_after("HELPER").unwrap();
    assert!(alive(helper));
    drop(child);
    // SIGKILL is delivered at once, but the orphan is reaped by init; wait for that.
    let gone = wait_until(Instant::now() + WAIT, "the helper gone", || !alive(helper));
    assert!(gone.is_ok(), "helper {helper} survived its group's guard");
}

#[test]
fn a_panicking_test_still_kills_its_child() {
    let mut pid = 0;
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let child = ChildGuard::spawn("sleeper", sh("sleep 30")).unwrap();
        pid = child.pid();
        panic!("test failure");
    }));
    assert!(outcome.is_err());
    assert!(pid != 0 && !alive(pid), "child {pid} survived the panic");
}

#[test]
fn waits_fail_with_the_reason_instead_of_hanging() {
    let mut child = ChildGuard::spawn("quitter", sh("echo bye >&2; exit 3")).unwrap();
    match child.wait_stdout("never") {
        Err(Error::LineMissing { stderr, .. }) => assert!(stderr.contains("bye")),
        other => panic!("{other:?}"),
    }
    assert!(matches!(child.wait_success(), Err(Error::Failed { .. })));

    let mut sleeper = ChildGuard::spawn("sleeper", sh("sleep 30")).unwrap();
    sleeper.set_deadline(Instant::now() + Duration::from_millis(200));
    assert!(matches!(
        sleeper.wait_line("x"),
        Err(Error::LineTimeout { .. })
    ));
    assert!(matches!(
        sleeper.wait_exit(),
        Err(Error::ExitTimeout { .. })
    ));
    assert!(!sleeper.is_running(), "a timed-out wait_exit kills");
}

#[test]
fn terminate_suspend_and_resume_signal_by_pid() {
    let mut child = ChildGuard::spawn(
        "trap",
        sh("trap 'echo got-term; exit 0' TERM; echo up; while true; do sleep 0.05; done"),
    )
    .unwrap();
    child.wait_stdout("up").unwrap();
    child.suspend().unwrap();
    // The stop takes effect asynchronously.
    let stat = format!("/proc/{}/stat", child.pid());
    let stopped = wait_until(Instant::now() + WAIT, "the child stopped", || {
        std::fs::read_to_string(&stat).unwrap().contains(") T")
    });
    assert!(
        stopped.is_ok(),
        "not stopped: {}",
        std::fs::read_to_string(&stat).unwrap()
    );
    child.resume().unwrap();
    let status = child.terminate().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(child.stdout().contains(&"got-term".to_owned()));
}

#[test]
fn thread_guard_stops_joins_and_reports_panics() {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let guard = ThreadGuard::spawn(
        "spinner",
        move || flag.store(true, Ordering::SeqCst),
        move || {
            let mut spins = 0u64;
            while !stop.load(Ordering::SeqCst) {
                spins += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
            spins
        },
    );
    assert!(guard.stop().is_ok());

    let panicking = ThreadGuard::spawn("panics", || {}, || panic!("boom"));
    match panicking.join() {
        Err(Error::ThreadPanicked { message, .. }) => assert_eq!(message, "boom"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn ports_are_free_and_listening_is_seen() {
    let (a, b) = free_port_pair().unwrap();
    assert_ne!(a, b);
    let port = free_port().unwrap();
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    wait_listening(
        banyan_testkit::LOOPBACK,
        port,
        Instant::now() + Duration::from_secs(10),
    )
    .unwrap();
    drop(listener);
    assert!(banyan_testkit::wait_closed(
        banyan_testkit::LOOPBACK,
        port,
        Instant::now() + Duration::from_secs(10)
    ));
}

/// A child that exits is reaped at once, without the test looking at its guard: no zombie
/// stays behind for python-banyan's process scan to crash on.
#[test]
fn an_exited_child_leaves_no_zombie_while_its_guard_lives() {
    let guard = ChildGuard::spawn("true", Command::new("true")).unwrap();
    let stat = format!("/proc/{}/stat", guard.pid());
    wait_until(Instant::now() + WAIT, "the exited child reaped", || {
        // Gone, or (PID reused meanwhile) not a zombie: the third field is the state.
        let state = std::fs::read_to_string(&stat)
            .ok()
            .and_then(|text| text.rsplit(')').next().map(|rest| rest.trim().to_string()));
        state.is_none_or(|rest| !rest.starts_with('Z'))
    })
    .unwrap();
    drop(guard);
}
