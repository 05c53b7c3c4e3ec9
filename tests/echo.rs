//! Host-only echo tests: backplane, echo server and echo client on loopback ephemeral ports.

use std::time::Duration;

use banyan_host::echo::{self, REPLY_TOPIC};
use banyan_testkit::{EchoServer, backplane, config};

const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

#[test]
fn echo_round_trip_delivers_all_eleven_messages_in_order() {
    let backplane = backplane();
    let server = EchoServer::start(&backplane);
    let mut client = config(&backplane, "EchoClient")
        .subscribe(REPLY_TOPIC)
        .connect()
        .unwrap();
    let mut replies = Vec::new();
    let report = echo::run_client(&mut client, 10, REPLY_TIMEOUT, |n| replies.push(n)).unwrap();
    let expected: Vec<i64> = (0..=10).rev().collect();
    assert_eq!(replies, expected);
    assert_eq!(report.replies, 11);
    assert_eq!(report.sent, 11 + report.resent);
    assert_eq!(server.stop(), expected);
}

#[test]
fn echo_repeated_200_times_never_loses_the_first_message() {
    let backplane = backplane();
    let server = EchoServer::start(&backplane);
    for run in 0..200 {
        // A fresh client each time: its very first message must get through.
        let mut client = config(&backplane, "EchoClient")
            .subscribe(REPLY_TOPIC)
            .connect()
            .unwrap();
        let report = echo::run_client(&mut client, 10, REPLY_TIMEOUT, |_| {})
            .unwrap_or_else(|error| panic!("run {run}: {error}"));
        assert_eq!(report.replies, 11, "run {run}");
    }
    assert_eq!(server.stop().len(), 200 * 11);
}

#[test]
fn echo_client_without_a_server_gives_up_with_the_demo_error() {
    let backplane = backplane();
    let mut client = config(&backplane, "EchoClient")
        .subscribe(REPLY_TOPIC)
        .connect()
        .unwrap();
    let options = echo::ClientOptions {
        count: 3,
        resend_after: Duration::from_millis(50),
        give_up_after: Duration::from_millis(300),
    };
    let error = echo::run_client_with(&mut client, &options, |_| {}).unwrap_err();
    match &error {
        echo::EchoError::Unanswered {
            message_number,
            waited,
            resent,
        } => {
            assert_eq!(*message_number, 3);
            assert_eq!(*waited, Duration::from_millis(300));
            assert!(*resent >= 1, "re-sent {resent} times");
        }
        other => panic!("expected Unanswered, got {other:?}"),
    }
    assert!(error.host().is_none());
    assert!(
        error
            .to_string()
            .starts_with("echo client: no reply to message_number 3 within 300ms ("),
        "{error}"
    );
}
