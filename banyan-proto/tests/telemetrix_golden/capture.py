#!/usr/bin/env python3
"""Captures golden Telemetrix bytes from the real Python clients on PyPI.

Each client is driven against the device model (banyan-testkit/python/telemetrix_device.py)
on a pty (Pico, Arduino) or TCP (ESP32), one API call at a time; for each call the frames the
model received are recorded. Then report frames are sent to the client and the data its
callbacks receive are recorded (without the time stamp the clients add).

    .venv/bin/python banyan-proto/tests/telemetrix_golden/capture.py > golden.txt
    .venv/bin/python banyan-proto/tests/telemetrix_golden/capture.py --check golden.txt

Needs (pinned in .ci/pip.d/telemetrix.txt): tmx-pico-aio 1.5.1, telemetrix-esp32 2.1.1,
telemetrix 1.47. Output lines (tab-separated):
    command <family> <call> <hex of the frames written>
    report  <family> <hex of the frame sent> <callback data, space-separated>
"""

import argparse
import asyncio
import contextlib
import io
import json
import os
import socket
import subprocess
import sys
import time
from importlib.metadata import version

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = os.path.join(HERE, "..", "..", "..", "banyan-testkit", "python", "telemetrix_device.py")


class Model:
    """The device model as a child process, with its control channel."""

    def __init__(self, family, tcp=False):
        cmd = [sys.executable, MODEL, "--family", family]
        if tcp:
            cmd += ["--tcp-port", "0"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        self.info = json.loads(self.proc.stdout.readline())
        self.sock = socket.create_connection(("127.0.0.1", self.info["control_port"]))
        self.rfile = self.sock.makefile("r")

    def ask(self, **msg):
        self.sock.sendall((json.dumps(msg) + "\n").encode())
        return json.loads(self.rfile.readline())

    def frames(self):
        """Frames received since the last call, as hex strings."""
        log = self.ask(op="log", clear=True)["frames"]
        return [f["hex"] for f in log]

    def close(self):
        self.sock.close()
        self.proc.terminate()
        self.proc.wait(timeout=10)


def wait_quiet(take, need, quiet=0.3, limit=10.0):
    """Polls `take()` (new items since the last call) until `need` items came and then
    nothing more for `quiet` seconds, or `limit` seconds passed."""
    got = []
    start = last = time.monotonic()
    while True:
        time.sleep(0.02)
        new = take()
        now = time.monotonic()
        if new:
            got += new
            last = now
        if now - start >= limit or (len(got) >= need and now - last >= quiet):
            return got


async def await_quiet(take, need, quiet=0.3, limit=10.0):
    """`wait_quiet` for the asyncio clients, whose callbacks run only while the loop runs."""
    got = []
    start = last = time.monotonic()
    while True:
        await asyncio.sleep(0.02)
        new = take()
        now = time.monotonic()
        if new:
            got += new
            last = now
        if now - start >= limit or (len(got) >= need and now - last >= quiet):
            return got


class Recorder:
    def __init__(self, family, model):
        self.family, self.model = family, model
        self.lines = []
        self.callbacks = []

    def command(self, label):
        # Every captured call writes at least one frame: wait for it, then for quiet.
        frames = wait_quiet(self.model.frames, need=1)
        self.lines.append(f"command\t{self.family}\t{label}\t{' '.join(frames)}")

    def take_callbacks(self):
        got = self.callbacks[:]
        del self.callbacks[:len(got)]
        return got

    def report(self, hex_frame):
        # Every captured report reaches a callback (the client's thread calls it).
        self.record_report(hex_frame, wait_quiet(self.take_callbacks, need=1))

    async def areport(self, hex_frame):
        self.record_report(hex_frame, await await_quiet(self.take_callbacks, need=1))

    def record_report(self, hex_frame, data):
        for d in data:
            self.lines.append(f"report\t{self.family}\t{hex_frame}\t{' '.join(map(str, d))}")
        if not data:
            self.lines.append(f"report\t{self.family}\t{hex_frame}\t-")

    async def acb(self, data):
        self.cb(data)

    def cb(self, data):
        # The clients append time.time() to every callback list: drop it.
        self.callbacks.append(list(data)[:-1] if isinstance(data[-1], float) and data[-1] > 1e9 else list(data))


async def pico(rec, model):
    from tmx_pico_aio.tmx_pico_aio import TmxPicoAio
    loop = asyncio.get_running_loop()
    with contextlib.redirect_stdout(io.StringIO()):
        board = TmxPicoAio(com_port=model.info["device"], autostart=False, loop=loop,
                           close_loop_on_shutdown=False)
        await board.start_aio()
    rec.command("handshake")
    calls = [
        ("set_pin_mode_digital_output(25)", board.set_pin_mode_digital_output(25)),
        ("digital_write(25, 1)", board.digital_write(25, 1)),
        ("digital_write(25, 0)", board.digital_write(25, 0)),
        ("set_pin_mode_digital_input(15)", board.set_pin_mode_digital_input(15, rec.acb)),
        ("set_pin_mode_digital_input_pullup(14)", board.set_pin_mode_digital_input_pullup(14, rec.acb)),
        ("set_pin_mode_digital_input_pull_down(13)", board.set_pin_mode_digital_input_pull_down(13, rec.acb)),
        ("set_pin_mode_analog_input(0)", board.set_pin_mode_analog_input(0, callback=rec.acb)),
        ("set_pin_mode_analog_input(1, differential=300)", board.set_pin_mode_analog_input(1, 300, rec.acb)),
        ("set_pin_mode_pwm_output(16)", board.set_pin_mode_pwm_output(16)),
        ("pwm_write(16, 50)", board.pwm_write(16, 50)),
        ("pwm_write(16, 19999, raw=True)", board.pwm_write(16, 19999, True)),
        ("set_pin_mode_servo(17, 300, 1900)", board.set_pin_mode_servo(17, 300, 1900)),
        ("servo_write(17, 90)", board.servo_write(17, 90)),
        ("enable_digital_reporting(15)", board.enable_digital_reporting(15)),
        ("disable_digital_reporting(15)", board.disable_digital_reporting(15)),
        ("enable_analog_reporting(0)", board.enable_analog_reporting(0)),
        ("disable_analog_reporting(0)", board.disable_analog_reporting(0)),
        ("disable_all_reporting()", board.disable_all_reporting()),
        ("set_pin_mode_i2c(0, 4, 5)", board.set_pin_mode_i2c(0, 4, 5)),
        ("i2c_read(0x53, 0x32, 6)", board.i2c_read(0x53, 0x32, 6, rec.acb)),
        ("i2c_read(0x53, None, 2)", board.i2c_read(0x53, None, 2, rec.acb)),
        ("i2c_write(0x53, [0x2d, 0x08])", board.i2c_write(0x53, [0x2D, 0x08])),
        ("set_pin_mode_sonar(2, 3)", board.set_pin_mode_sonar(2, 3, rec.acb)),
        ("set_pin_mode_dht(6)", board.set_pin_mode_dht(6, rec.acb)),
        ("loop_back('A')", board.loop_back("A", rec.acb)),
    ]
    for label, coro in calls:
        await coro
        rec.command(label)
    # Let the client's task deliver what the calls caused (reports the replies), then forget it.
    await await_quiet(rec.take_callbacks, need=0, quiet=0.5)
    # Reports: each frame as the firmware sends it, and what the client makes of it.
    for hex_frame in ["03 02 0f 01", "03 02 0f 00", "04 03 00 03 ff", "04 03 01 0f a0",
                      "04 0b 02 19 32", "04 0b 02 00 00",
                      "07 0a 00 53 32 02 aa bb", "02 00 41"]:
        model.ask(op="send", hex=hex_frame)
        await rec.areport(hex_frame)
    with contextlib.redirect_stdout(io.StringIO()):
        await board.shutdown()
    await asyncio.sleep(0.2)
    rec.command("shutdown()")


async def esp32(rec, model):
    from telemetrix_aio_esp32.telemetrix_aio_esp32 import TelemetrixAioEsp32
    loop = asyncio.get_running_loop()
    with contextlib.redirect_stdout(io.StringIO()):
        board = TelemetrixAioEsp32(transport_address="127.0.0.1", ip_port=model.info["tcp_port"],
                                   autostart=False, loop=loop)
        await board.start_aio()
    await asyncio.sleep(0.15)
    rec.command("handshake")
    calls = [
        ("set_pin_mode_digital_output(2)", board.set_pin_mode_digital_output(2)),
        ("digital_write(2, 1)", board.digital_write(2, 1)),
        ("set_pin_mode_digital_input(4)", board.set_pin_mode_digital_input(4, rec.acb)),
        ("set_pin_mode_digital_input_pullup(5)", board.set_pin_mode_digital_input_pullup(5, rec.acb)),
        ("set_pin_mode_digital_input_pulldown(12)", board.set_pin_mode_digital_input_pulldown(12, rec.acb)),
        ("set_pin_mode_analog_input(32)", board.set_pin_mode_analog_input(32, callback=rec.acb)),
        ("set_pin_mode_analog_output(13)", board.set_pin_mode_analog_output(13)),
        ("analog_write(13, 128)", board.analog_write(13, 128)),
        ("set_pin_mode_servo(14)", board.set_pin_mode_servo(14)),
        ("servo_write(14, 90)", board.servo_write(14, 90)),
        ("servo_detach(14)", board.servo_detach(14)),
        ("enable_digital_reporting(4)", board.enable_digital_reporting(4)),
        ("disable_digital_reporting(4)", board.disable_digital_reporting(4)),
        ("enable_analog_reporting(32)", board.enable_analog_reporting(32)),
        ("disable_analog_reporting(32)", board.disable_analog_reporting(32)),
        ("disable_all_reporting()", board.disable_all_reporting()),
        ("set_pin_mode_i2c()", board.set_pin_mode_i2c()),
        ("i2c_read(0x53, 0x32, 6)", board.i2c_read(0x53, 0x32, 6, rec.acb)),
        ("i2c_write(0x53, [0x2d, 0x08])", board.i2c_write(0x53, [0x2D, 0x08])),
        ("set_pin_mode_sonar(16, 17)", board.set_pin_mode_sonar(16, 17, rec.acb)),
        ("set_analog_scan_interval(50)", board.set_analog_scan_interval(50)),
        ("loop_back('A')", board.loop_back("A", rec.acb)),
    ]
    for label, coro in calls:
        await coro
        rec.command(label)
    # Let the client's task deliver what the calls caused (reports the replies), then forget it.
    await await_quiet(rec.take_callbacks, need=0, quiet=0.5)
    for hex_frame in ["03 02 04 01", "03 02 05 00", "04 03 20 0f ff", "04 0a 10 01 2c",
                      "06 09 02 53 32 aa bb", "02 00 41"]:
        model.ask(op="send", hex=hex_frame)
        await rec.areport(hex_frame)
    with contextlib.redirect_stdout(io.StringIO()):
        await board.shutdown()
    await asyncio.sleep(0.2)
    rec.command("shutdown()")


def arduino(rec, model):
    from telemetrix.telemetrix import Telemetrix
    with contextlib.redirect_stdout(io.StringIO()):
        board = Telemetrix(com_port=model.info["device"], arduino_wait=0.2)
    time.sleep(0.15)
    rec.command("handshake")
    calls = [
        ("set_pin_mode_digital_output(13)", lambda: board.set_pin_mode_digital_output(13)),
        ("digital_write(13, 1)", lambda: board.digital_write(13, 1)),
        ("set_pin_mode_digital_input(2)", lambda: board.set_pin_mode_digital_input(2, rec.cb)),
        ("set_pin_mode_digital_input_pullup(3)", lambda: board.set_pin_mode_digital_input_pullup(3, rec.cb)),
        ("set_pin_mode_analog_input(0, differential=5)", lambda: board.set_pin_mode_analog_input(0, 5, rec.cb)),
        ("set_pin_mode_analog_output(9)", lambda: board.set_pin_mode_analog_output(9)),
        ("analog_write(9, 128)", lambda: board.analog_write(9, 128)),
        ("set_pin_mode_servo(10)", lambda: board.set_pin_mode_servo(10)),
        ("servo_write(10, 90)", lambda: board.servo_write(10, 90)),
        ("servo_detach(10)", lambda: board.servo_detach(10)),
        ("enable_digital_reporting(2)", lambda: board.enable_digital_reporting(2)),
        ("disable_digital_reporting(2)", lambda: board.disable_digital_reporting(2)),
        ("enable_analog_reporting(0)", lambda: board.enable_analog_reporting(0)),
        ("disable_analog_reporting(0)", lambda: board.disable_analog_reporting(0)),
        ("disable_all_reporting()", lambda: board.disable_all_reporting()),
        ("set_pin_mode_i2c()", lambda: board.set_pin_mode_i2c()),
        ("i2c_read(0x53, 0x32, 6)", lambda: board.i2c_read(0x53, 0x32, 6, rec.cb)),
        ("i2c_write(0x53, [0x2d, 0x08])", lambda: board.i2c_write(0x53, [0x2D, 0x08])),
        ("set_pin_mode_sonar(7, 8)", lambda: board.set_pin_mode_sonar(7, 8, rec.cb)),
        ("set_pin_mode_dht(4, dht_type=11)", lambda: board.set_pin_mode_dht(4, rec.cb, 11)),
        ("set_analog_scan_interval(50)", lambda: board.set_analog_scan_interval(50)),
        ("loop_back('A')", lambda: board.loop_back("A", rec.cb)),
    ]
    for label, call in calls:
        call()
        rec.command(label)
    wait_quiet(rec.take_callbacks, need=0, quiet=0.5)
    for hex_frame in ["03 02 02 01", "04 03 00 01 ff", "04 0b 07 01 2c",
                      "07 0a 00 02 53 32 aa bb", "02 00 41"]:
        model.ask(op="send", hex=hex_frame)
        rec.report(hex_frame)
    with contextlib.redirect_stdout(io.StringIO()):
        board.shutdown()
    time.sleep(0.2)
    rec.command("shutdown()")


def capture():
    lines = [
        "# Golden Telemetrix bytes written by the real Python clients; made by capture.py, do not edit.",
        f"# tmx-pico-aio {version('tmx-pico-aio')}, telemetrix-esp32 {version('telemetrix-esp32')}, "
        f"telemetrix {version('telemetrix')}",
    ]
    for family, tcp, run in [("rpi_pico", False, pico), ("esp32", True, esp32), ("arduino", False, arduino)]:
        model = Model(family, tcp)
        try:
            rec = Recorder(family, model)
            if asyncio.iscoroutinefunction(run):
                asyncio.run(run(rec, model))
            else:
                run(rec, model)
            lines += rec.lines
        finally:
            model.close()
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", metavar="FILE", help="compare with a committed capture instead of printing")
    args = ap.parse_args()
    text = capture()
    if args.check:
        with open(args.check) as f:
            committed = f.read()
        if committed != text:
            import difflib
            sys.stdout.writelines(difflib.unified_diff(committed.splitlines(True), text.splitlines(True),
                                                       args.check, "captured now"))
            print("telemetrix golden: the clients' bytes differ from the committed capture", file=sys.stderr)
            sys.exit(1)
        print(f"telemetrix golden: {text.count(chr(10)) - 2} lines match {args.check}")
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
