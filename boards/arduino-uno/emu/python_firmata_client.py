#!/usr/bin/env python3
"""A real Python Firmata client (pyfirmata2) running one OneGPIO-style script against a board.

The steps, in order, each printed as one JSON line on stdout once done:

    d13_high      D13 OUTPUT, write 1
    d13_low       D13 write 0
    d9_pwm_128    D9 PWM, write 128/255
    d10_servo_90  D10 servo (544-2400 us), write 90 degrees
    d2_input      D2 INPUT (reporting on)
    d2_read_high  waits for D2 to read 1 (the checker drives it), prints the value read
    d2_read_low   waits for D2 to read 0, prints the value read
    a0_read       A0 reporting on, waits for a report, prints the 10-bit value

the same steps as lib/onegpio-steps.mjs; side-by-side.mjs runs both and compares the pins.

    python_firmata_client.py --port /dev/pts/N [--lockstep] [--timeout S]

--port is a serial device: a real Uno's /dev/ttyACM0, or the harness's serial TCP port
bridged to a pty by socat. --lockstep waits for a line on stdin before each step (the checker
sets inputs and reads pins between steps). Exit 0 when every step ran; 1 with a one-line
message on stderr when the board does not answer or a read times out; 2 on bad arguments.

pyfirmata2 because it speaks plain Firmata to an unmodified StandardFirmata at 57600 baud:
pymata4 and pymata-express are built for FirmataExpress (115200 baud, an are-you-there
handshake StandardFirmata does not answer).
"""

import argparse
import json
import sys
import threading
import time

try:
    import pyfirmata2
except ImportError:
    print("python_firmata_client: pyfirmata2 is not installed (pip install pyfirmata2==2.5.1)", file=sys.stderr)
    sys.exit(2)


class Failed(Exception):
    """A step that could not complete."""


class Latest:
    """The latest value a pyfirmata2 callback (its reader thread) delivered."""

    def __init__(self):
        self.value = None
        self.changed = threading.Condition()

    def set(self, value):
        with self.changed:
            self.value = value
            self.changed.notify_all()

    def wait_for(self, good, timeout, what):
        deadline = time.monotonic() + timeout
        with self.changed:
            while self.value is None or not good(self.value):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Failed(f"{what}: no matching report in {timeout} s (last value {self.value})")
                self.changed.wait(left)
            return self.value


def emit(step, **fields):
    print(json.dumps({"step": step, **fields}), flush=True)


def run(board, args, gate):
    gate()
    d13 = board.get_pin("d:13:o")
    d13.write(1)
    emit("d13_high")

    gate()
    d13.write(0)
    emit("d13_low")

    gate()
    d9 = board.get_pin("d:9:p")
    d9.write(128 / 255)
    emit("d9_pwm_128")

    gate()
    d10 = board.get_pin("d:10:s")  # servo_config(10, 544, 2400, angle 0)
    d10.write(90)
    emit("d10_servo_90")

    gate()
    d2_value = Latest()
    d2 = board.get_pin("d:2:i")  # INPUT, and reporting of port 0 on
    d2.register_callback(lambda value: d2_value.set(1 if value else 0))
    emit("d2_input")

    gate()
    emit("d2_read_high", value=d2_value.wait_for(lambda v: v == 1, args.timeout, "D2 = 1"))

    gate()
    emit("d2_read_low", value=d2_value.wait_for(lambda v: v == 0, args.timeout, "D2 = 0"))

    gate()
    a0_value = Latest()
    a0 = board.analog[0]
    # pyfirmata2 scales to 0..1 (value / 1023, 4 decimals): back to the 10-bit reading.
    a0.register_callback(lambda value: a0_value.set(round(value * 1023)))
    a0.enable_reporting()
    emit("a0_read", value=a0_value.wait_for(lambda v: True, args.timeout, "A0"))


def quiet_board_finalizer(unraisable, default=sys.unraisablehook):
    """pyfirmata2's Board.__del__ raises on a board whose port never opened (no `analog` yet):
    that is the error already reported in one line, not a second one with a traceback."""
    if getattr(unraisable.object, "__qualname__", "") == "Board.__del__":
        return
    default(unraisable)


def main():
    sys.unraisablehook = quiet_board_finalizer
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", required=True, help="serial device (a pty from socat, /dev/ttyACM0)")
    parser.add_argument("--lockstep", action="store_true", help="wait for a stdin line before each step")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds to wait for a report")
    args = parser.parse_args()

    def gate():
        if args.lockstep and not sys.stdin.readline():
            raise Failed("stdin closed before the next step")

    board = None
    try:
        # Waits 5 s for the board's auto-reset, as pyfirmata2 always does, then uses the Uno
        # layout (no capability query).
        board = pyfirmata2.Arduino(args.port)
        board.samplingOn()  # starts pyfirmata2's reader thread
        # Ask for the firmware's name (REPORT_FIRMWARE): proof that StandardFirmata answers.
        board.send_sysex(pyfirmata2.REPORT_FIRMWARE, [])
        deadline = time.monotonic() + args.timeout
        while board.firmware is None:
            if time.monotonic() > deadline:
                raise Failed(f"no answer to REPORT_FIRMWARE in {args.timeout} s")
            time.sleep(0.02)
        emit("connected", firmware=board.firmware, version=list(board.firmware_version))
        run(board, args, gate)
    except Failed as error:
        print(f"python_firmata_client: {error}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as error:
        print(f"python_firmata_client: {args.port}: {error}", file=sys.stderr)
        return 1
    finally:
        if board is not None:
            board.exit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
