//! Every command fails the same way on a bad command line: one line on stderr, `NAME: error:
//! MESSAGE (see NAME --help)`, exit code 2 (clap's and Python argparse's usage-error code),
//! nothing started; `--help` prints the usage and exits 0.

use std::path::Path;
use std::process::Command;

/// Every binary of banyan-cli, by name and path (a new one must be added here: the test
/// counts `src/bin/`).
const BINARIES: &[(&str, &str)] = &[
    ("ardgw", env!("CARGO_BIN_EXE_ardgw")),
    ("backplane", env!("CARGO_BIN_EXE_backplane")),
    ("banyan-gateway", env!("CARGO_BIN_EXE_banyan-gateway")),
    ("blc", env!("CARGO_BIN_EXE_blc")),
    ("blk", env!("CARGO_BIN_EXE_blk")),
    ("bls", env!("CARGO_BIN_EXE_bls")),
    ("esp32gw", env!("CARGO_BIN_EXE_esp32gw")),
    ("mgw", env!("CARGO_BIN_EXE_mgw")),
    ("monitor", env!("CARGO_BIN_EXE_monitor")),
    ("onegpio-sim", env!("CARGO_BIN_EXE_onegpio-sim")),
    ("rpgw", env!("CARGO_BIN_EXE_rpgw")),
    ("s32", env!("CARGO_BIN_EXE_s32")),
    ("s3a", env!("CARGO_BIN_EXE_s3a")),
    ("s3rp", env!("CARGO_BIN_EXE_s3rp")),
    ("s3x", env!("CARGO_BIN_EXE_s3x")),
    (
        "simple-echo-client",
        env!("CARGO_BIN_EXE_simple-echo-client"),
    ),
    (
        "simple-echo-server",
        env!("CARGO_BIN_EXE_simple-echo-server"),
    ),
    ("tgw", env!("CARGO_BIN_EXE_tgw")),
    ("ws-gateway", env!("CARGO_BIN_EXE_ws-gateway")),
    ("wsgw", env!("CARGO_BIN_EXE_wsgw")),
];

/// Runs `path ARGS` with stdin closed; it must fail with exit code 2 and one line on stderr,
/// `NAME: error: … (see NAME --help)` containing `needle`, and print nothing on stdout.
fn assert_usage_error(name: &str, path: &str, args: &[&str], needle: &str) {
    let output = Command::new(path)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{name} does not start: {e}"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{name} {args:?}: {stderr}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "{name} {args:?}: {stderr}"
    );
    assert!(stderr.starts_with(&format!("{name}: error: ")), "{stderr}");
    assert!(
        stderr.trim_end().ends_with(&format!("(see {name} --help)")),
        "{stderr}"
    );
    assert!(stderr.contains(needle), "{name} {args:?}: {stderr}");
    assert!(
        output.stdout.is_empty(),
        "{name} {args:?} printed: {}",
        String::from_utf8_lossy(&output.stdout)
    );
}

#[test]
fn the_list_names_every_binary() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/bin");
    let mut found: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "rs"))
        .map(|path| path.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    found.sort();
    let listed: Vec<&str> = BINARIES.iter().map(|(name, _)| *name).collect();
    assert_eq!(found, listed);
}

#[test]
fn an_unknown_flag_is_one_line_and_exit_code_2() {
    for (name, path) in BINARIES {
        assert_usage_error(
            name,
            path,
            &["--no-such-flag"],
            "unexpected argument '--no-such-flag' found",
        );
    }
}

#[test]
fn a_malformed_value_names_the_flag() {
    // Every command's -p is a port number (the components', the launchers', the gateways').
    for (name, path) in BINARIES {
        assert_usage_error(name, path, &["-p", "notaport"], "invalid value 'notaport'");
    }
}

#[test]
fn help_prints_the_usage_and_exits_0() {
    for (name, path) in BINARIES {
        let output = Command::new(path)
            .arg("--help")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{name} --help: {output:?}");
        assert!(
            stdout.contains(&format!("Usage: {name}")),
            "{name}: {stdout}"
        );
    }
}
