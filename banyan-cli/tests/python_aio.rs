//! The async side's interoperability with the real Python Banyan (python-banyan 3.17):
//! Python's asyncio components (`BanyanBaseAIO`, `tests/python/aio_echo.py`) and the async
//! Rust component (`banyan_host::aio`, its echo server and client in `aio::echo`, which
//! `examples/async_echo_server.rs` runs) echo each other both ways; and the seed's Python
//! client (`BanyanBase`) is answered by the async Rust server.
//!
//! The Rust components run in-process on a tokio runtime; backplanes, Python components and
//! the lookup of a python-banyan interpreter are the interop suite's (`python_interop/`,
//! `banyan-testkit`): ephemeral ports, processes ended by the scenario, skips without
//! python-banyan except under `CI=true`.

use std::time::Duration;

use banyan_host::echo::{ClientOptions, ECHO_TOPIC, REPLY_TOPIC};
use banyan_host::net::outward_ipv4;
use banyan_host::{ComponentConfig, ShutdownHandle, aio};
use banyan_testkit::interop::{
    interop_script, python_backplane, python_component, run_interop, rust_backplane,
};
use banyan_testkit::served_numbers;
use banyan_testkit::{ChildGuard, Scenario, Step, banyan_python, ensure};

/// How long a Rust component waits for its proofs (a loaded CI machine).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

macro_rules! python_or_skip {
    ($test:literal) => {
        match banyan_python($test) {
            Some(python) => python,
            None => return,
        }
    };
}

fn countdown() -> Vec<i64> {
    (0..=10).rev().collect()
}

fn runtime() -> Step<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|error| format!("tokio runtime: {error}"))
}

fn rust_config(name: &str, address: &str, publisher: &str, subscriber: &str) -> ComponentConfig {
    let port = |text: &str| text.parse::<u16>().expect("a port");
    ComponentConfig::new(name)
        .backplane(address, port(publisher), port(subscriber))
        .connect_timeout(CONNECT_TIMEOUT)
}

/// The async Rust echo server on `runtime`, connected (subscription proven) when this
/// returns; stop it with the handle, then await the task for the numbers it served.
fn start_rust_server(
    runtime: &tokio::runtime::Runtime,
    config: ComponentConfig,
) -> Step<(
    ShutdownHandle,
    tokio::task::JoinHandle<banyan_host::Result<Vec<i64>>>,
)> {
    let mut server = runtime
        .block_on(aio::Component::connect(config.subscribe(ECHO_TOPIC)))
        .map_err(|error| format!("rust async echo server: {error}"))?;
    let stop = server.shutdown_handle();
    let task = runtime.spawn(async move {
        let mut served = Vec::new();
        aio::echo::serve(&mut server, |n| served.push(n)).await?;
        Ok(served)
    });
    Ok((stop, task))
}

/// Runs `client` to success and checks it counted down, and that the Rust server served
/// 10 down to 0.
fn check_against_rust_server(
    runtime: &tokio::runtime::Runtime,
    client: &mut ChildGuard,
    stop: &ShutdownHandle,
    task: tokio::task::JoinHandle<banyan_host::Result<Vec<i64>>>,
) -> Step {
    client.wait_success()?;
    client.wait_stdout("10 messages sent and received.")?;
    stop.shutdown().map_err(|error| error.to_string())?;
    let served = runtime
        .block_on(task)
        .map_err(|error| format!("server task: {error}"))?
        .map_err(|error| format!("server: {error}"))?;
    ensure(served == countdown(), || format!("served {served:?}"))
}

fn python_aio(
    python: &std::path::Path,
    role: &str,
    address: &str,
    ports: (&str, &str),
) -> std::process::Command {
    let mut command = interop_script(python, "aio_echo.py");
    command.args([role, "-b", address, "-p", ports.0, "-s", ports.1]);
    command
}

#[test]
fn python_aio_echo_client_rust_async_echo_server() {
    let python = python_or_skip!("python_aio_echo_client_rust_async_echo_server");
    run_interop(
        "rust backplane + rust async server + python BanyanBaseAIO client",
        |scenario: &mut Scenario| {
            let address = outward_ipv4().to_string();
            let (_backplane, publisher, subscriber) = rust_backplane(scenario)?;
            let runtime = runtime()?;
            let config = rust_config("AsyncEchoServer", &address, &publisher, &subscriber);
            let (stop, task) = start_rust_server(&runtime, config)?;
            let command = python_aio(&python, "client", &address, (&publisher, &subscriber));
            let mut client = scenario.spawn("python aio echo client", command)?;
            check_against_rust_server(&runtime, &mut client, &stop, task)
        },
    );
}

#[test]
fn rust_async_echo_client_python_aio_echo_server() {
    let python = python_or_skip!("rust_async_echo_client_python_aio_echo_server");
    run_interop(
        "rust backplane + python BanyanBaseAIO server + rust async client",
        |scenario: &mut Scenario| {
            let address = outward_ipv4().to_string();
            let (_backplane, publisher, subscriber) = rust_backplane(scenario)?;
            let command = python_aio(&python, "server", &address, (&publisher, &subscriber));
            let server = scenario.spawn("python aio echo server", command)?;
            server.wait_stdout("AioEchoServer ready")?;

            let runtime = runtime()?;
            let config = rust_config("AsyncEchoClient", &address, &publisher, &subscriber)
                .subscribe(REPLY_TOPIC);
            let replies = runtime.block_on(async {
                let mut client = aio::Component::connect(config).await?;
                let mut replies = Vec::new();
                let options = ClientOptions::new(10, CONNECT_TIMEOUT);
                let report =
                    aio::echo::run_client(&mut client, &options, |n| replies.push(n)).await?;
                Ok::<_, banyan_host::echo::EchoError>((replies, report))
            });
            let (replies, report) =
                replies.map_err(|error| format!("rust async client: {error}"))?;
            ensure(replies == countdown(), || format!("replies {replies:?}"))?;
            ensure(report.replies == 11, || format!("{report:?}"))?;
            server.wait_stdout("Message number: 0")?;
            let served = served_numbers(&server);
            ensure(served.ends_with(&countdown()[1..]), || {
                format!("python server served {served:?}")
            })
        },
    );
}

#[test]
fn seed_python_echo_client_rust_async_echo_server_python_backplane() {
    let python = python_or_skip!("seed_python_echo_client_rust_async_echo_server_python_backplane");
    run_interop(
        "python backplane + rust async server + the seed's python client",
        |scenario: &mut Scenario| {
            let address = outward_ipv4().to_string();
            let (_backplane, publisher, subscriber) = python_backplane(scenario, &python)?;
            let runtime = runtime()?;
            let config = rust_config("AsyncEchoServer", &address, &publisher, &subscriber);
            let (stop, task) = start_rust_server(&runtime, config)?;
            let command = python_component(
                &python,
                "simple_echo_client.py",
                &address,
                &publisher,
                &subscriber,
            );
            let mut client = scenario.spawn("python echo client", command)?;
            check_against_rust_server(&runtime, &mut client, &stop, task)
        },
    );
}
