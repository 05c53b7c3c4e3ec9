#!/usr/bin/env python3
"""Records the exact bytes real Python Firmata clients write, as golden data for
banyan-proto's Firmata encoder (tests/firmata_golden.rs compares them byte for byte).

Each client is pointed at a pseudo-terminal whose other end is a minimal fake board: it
answers the start-up handshake (ARE_YOU_THERE, REPORT_FIRMWARE, ANALOG_MAPPING_QUERY,
CAPABILITY_QUERY, REPORT_VERSION, PIN_STATE_QUERY) with an Arduino Uno's replies (the
capability and mapping bytes the real StandardFirmata sent, standard_firmata_uno.txt), so that
the client starts, and records every byte the client writes. After each API call the script
waits until the bytes have arrived and files them under the call's source text.

Rerun (rewrites pymata4.txt and pyfirmata2.txt beside this file, or in DIR with
`--out DIR`; about 45 s):

    python3 -m venv /tmp/firmata-venv
    /tmp/firmata-venv/bin/pip install pymata4==1.15 pyfirmata2==2.5.1
    /tmp/firmata-venv/bin/python banyan-proto/tests/firmata_golden/capture.py

`cargo test` never runs this: the data files are committed.
"""

import os
import sys
import threading
import time
import tty
from importlib import metadata

HERE = os.path.dirname(os.path.abspath(__file__))



def uno_replies():
    """The real StandardFirmata Uno's replies (standard_firmata_uno.txt, recorded under avr8js
    by standard_firmata.js), by query."""
    replies = {}
    with open(os.path.join(HERE, "standard_firmata_uno.txt")) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            query, reply = line.rstrip("\n").split("\t")
            replies[query] = bytes.fromhex(reply)
    return replies


UNO = uno_replies()


def two7(text):
    out = []
    for ch in text:
        out += [ord(ch) & 0x7F, ord(ch) >> 7]
    return out


class FakeBoard(threading.Thread):
    """Reads the client's bytes from the pty master, records them, answers queries."""

    def __init__(self, master, firmware_name):
        super().__init__(daemon=True)
        self.master = master
        self.firmware_name = firmware_name
        self.log = bytearray()
        self.lock = threading.Lock()
        self.sysex = None

    def reply(self, data):
        os.write(self.master, bytes(data))

    def on_sysex(self, body):
        command, data = body[0], body[1:]
        if command == 0x51:  # ARE_YOU_THERE -> I_AM_HERE, instance id 1
            self.reply([0xF0, 0x52, 1, 0xF7])
        elif command == 0x79:  # REPORT_FIRMWARE
            self.reply([0xF0, 0x79, 1, 2] + two7(self.firmware_name) + [0xF7])
        elif command == 0x69:  # ANALOG_MAPPING_QUERY
            self.reply(UNO["f0 69 f7"])
        elif command == 0x6B:  # CAPABILITY_QUERY
            self.reply(UNO["f0 6b f7"])
        elif command == 0x6D and data:  # PIN_STATE_QUERY: output, low
            self.reply([0xF0, 0x6E, data[0], 0x01, 0x00, 0xF7])

    def run(self):
        while True:
            try:
                chunk = os.read(self.master, 4096)
            except OSError:
                return
            if not chunk:
                return
            with self.lock:
                self.log += chunk
            for b in chunk:
                if b == 0xF0:
                    self.sysex = []
                elif b == 0xF7 and self.sysex is not None:
                    if self.sysex:
                        self.on_sysex(self.sysex)
                    self.sysex = None
                elif self.sysex is not None:
                    self.sysex.append(b)
                elif b == 0xF9:  # REPORT_VERSION -> 2.5
                    self.reply([0xF9, 2, 5])

    def take(self, settle=0.3):
        """Bytes written since the last take, once nothing more arrives for `settle` s."""
        last = -1
        while True:
            time.sleep(settle)
            with self.lock:
                if len(self.log) == last:
                    out = bytes(self.log)
                    self.log.clear()
                    return out
                last = len(self.log)


def open_pty():
    master, slave = os.openpty()
    tty.setraw(master)
    return master, slave, os.ttyname(slave)


def record(board, rows, call, thunk, settle=0.3):
    board.take(0.1)  # anything still in flight belongs to the call before
    thunk()
    data = board.take(settle)
    rows.append((call, data))
    print(f"{call:55} {data.hex(' ')}", file=sys.stderr)


def capture_pymata4():
    from pymata4 import pymata4

    master, slave, path = open_pty()
    board = FakeBoard(master, "FirmataExpress.ino")
    board.start()
    rows = []
    holder = {}

    def start():
        holder["b"] = pymata4.Pymata4(com_port=path, baud_rate=115200, arduino_wait=0)

    record(board, rows, "Pymata4(com_port, baud_rate=115200)", start)
    b = holder["b"]
    calls = [
        "b.set_pin_mode_digital_output(13)",
        "b.digital_write(13, 1)",
        "b.digital_write(13, 0)",
        "b.digital_pin_write(7, 1)",
        "b.set_pin_mode_digital_input(2)",
        "b.set_pin_mode_digital_input_pullup(4)",
        "b.enable_digital_reporting(10)",
        "b.disable_digital_reporting(10)",
        "b.set_pin_mode_analog_input(0)",
        "b.enable_analog_reporting(1)",
        "b.disable_analog_reporting(1)",
        "b.set_pin_mode_pwm_output(9)",
        "b.pwm_write(9, 128)",
        "b.pwm_write(20, 255)",
        "b.set_pin_mode_servo(6)",
        "b.set_pin_mode_servo(6, 600, 2300)",
        "b.servo_write(6, 90)",
        "b.set_sampling_interval(100)",
        "b.set_pin_mode_i2c()",
        "b.set_pin_mode_i2c(300)",
        "b.i2c_read(0x48, 0, 2)",
        "b.i2c_read(0x48, None, 2)",
        "b.i2c_read_continuous(0x48, 0x10, 6)",
        "b.i2c_read_restart_transmission(0x1d, 0x0d, 1)",
        "b.i2c_write(0x48, [1, 0x60, 0xa0])",
        "b.set_pin_mode_tone(3)",
        "b.play_tone(3, 1000, 500)",
        "b.play_tone_continuously(3, 440)",
        "b.play_tone_off(3)",
        "b.set_pin_mode_sonar(12, 11)",
        "b.set_pin_mode_stepper(200, [8, 9, 10, 11])",
        "b.set_pin_mode_stepper(512, [4, 5])",
        "b.stepper_write(21, 100)",
        "b.stepper_write(300, -2000)",
        "b.set_pin_mode_dht(7, 22)",
        "b.get_capability_report()",
        "b.get_analog_map()",
        "b.get_firmware_version()",
        "b.get_protocol_version()",
        "b.get_pin_state(13)",
        "b.send_reset()",
    ]
    for call in calls:
        record(board, rows, call, lambda call=call: eval(call, {"b": b}))
    # Last: it starts a thread that sends KEEP_ALIVE at once, then every period - margin
    # (1.7 s); the recording window (2 x settle = 1 s) takes the first one only.
    record(board, rows, "b.keep_alive(period=2)", lambda: b.keep_alive(period=2), settle=0.5)
    return rows, f"pymata4 {metadata.version('pymata4')}"


def capture_pyfirmata2():
    import pyfirmata2
    import pyfirmata2.pyfirmata2 as core

    core.BOARD_SETUP_WAIT_TIME = 0  # the fake board needs no reset time
    master, slave, path = open_pty()
    board = FakeBoard(master, "StandardFirmata.ino")
    board.start()
    rows = []
    holder = {}

    def start():
        holder["b"] = pyfirmata2.Arduino(path)

    record(board, rows, "Arduino(port)", start)
    b = holder["b"]
    calls = [
        "b.analog[0].enable_reporting()",
        "b.analog[0].disable_reporting()",
        "b.digital_ports[1].enable_reporting()",
        "b.digital_ports[1].disable_reporting()",
        "b.get_pin('d:13:o')",
        "b.digital[13].write(1)",
        "b.get_pin('d:9:p')",
        "b.digital[9].write(0.5)",
        "b.setSamplingInterval(19)",
        "b.servo_config(6, 544, 2400, 90)",
    ]
    for call in calls:
        record(board, rows, call, lambda call=call: eval(call, {"b": b}))
    return rows, f"pyfirmata2 {metadata.version('pyfirmata2')}"


def write(out_dir, name, rows, client):
    path = os.path.join(out_dir, name)
    with open(path, "w") as f:
        f.write(f"# Bytes {client} wrote for each call (Python {sys.version.split()[0]}),\n")
        f.write("# recorded by capture.py through a pty with a fake Uno answering queries.\n")
        f.write("# call<TAB>hex bytes, in order. Regenerate with capture.py; do not edit.\n")
        for call, data in rows:
            f.write(f"{call}\t{data.hex(' ')}\n")


def main():
    # --out DIR writes the files there instead (CI compares them with the committed ones).
    out_dir = sys.argv[sys.argv.index("--out") + 1] if "--out" in sys.argv else HERE
    rows, client = capture_pymata4()
    write(out_dir, "pymata4.txt", rows, client)
    rows, client = capture_pyfirmata2()
    write(out_dir, "pyfirmata2.txt", rows, client)
    # Daemon threads (receivers, keep-alive) end with the process.
    os._exit(0)


if __name__ == "__main__":
    main()
