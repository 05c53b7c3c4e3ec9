//! `s3a`: Scratch 3 OneGPIO for an Arduino, as s3-extend's `s3a`: a backplane, `wsgw -i 9000`
//! and `ardgw`, with prefixed output, restarts and a clean Ctrl-C (`banyan_cli::classroom`).

use std::process::ExitCode;

use banyan_cli::classroom::{Board, ClassroomArgs};
use banyan_cli::run_main;
use clap::Parser;

/// Scratch 3 OneGPIO for an Arduino (FirmataExpress): backplane, wsgw on port 9000 and ardgw.
#[derive(Debug, Parser)]
#[command(name = "s3a", version)]
struct Args {
    /// Serial port of the Arduino (passed to ardgw -c) [default: ardgw finds it]
    #[arg(short = 'c', value_name = "PORT", conflicts_with = "instance_id")]
    com_port: Option<String>,
    /// FirmataExpress instance id to look for (passed to ardgw -i)
    #[arg(short = 'i', value_name = "ID")]
    instance_id: Option<u8>,
    #[command(flatten)]
    classroom: ClassroomArgs,
    /// More arguments for ardgw (after `--`)
    #[arg(last = true, value_name = "ARDGW_ARGS")]
    gateway_args: Vec<String>,
}

fn main() -> ExitCode {
    run_main("s3a", || {
        let Some(args) = banyan_cli::parse_args::<Args>("s3a")? else {
            return Ok(());
        };
        let board = Board::Arduino;
        let mut gateway_args = Vec::new();
        if let Some(port) = &args.com_port {
            gateway_args.extend(["-c".to_owned(), port.clone()]);
        }
        if let Some(id) = args.instance_id {
            gateway_args.extend(["-i".to_owned(), id.to_string()]);
        }
        gateway_args.extend(args.gateway_args.iter().cloned());
        board.run(&gateway_args, &args.classroom)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_as_s3_extend_s_s3a_and_more_for_ardgw() {
        let args = Args::try_parse_from(["s3a", "-c", "/dev/ttyACM0", "--", "-k", "False"])
            .expect("s3a -c PORT -- ARGS");
        assert_eq!(args.com_port.as_deref(), Some("/dev/ttyACM0"));
        assert_eq!(args.gateway_args, ["-k", "False"]);
        assert_eq!(args.classroom.ws_port, None);
        let args = Args::try_parse_from(["s3a", "-i", "7"]).expect("s3a -i ID");
        assert_eq!(args.instance_id, Some(7));
        // s3-extend: "Both com_port arduino_instance_id were set. Only one is allowed".
        assert!(Args::try_parse_from(["s3a", "-c", "COM5", "-i", "7"]).is_err());
    }
}
