#!/usr/bin/env python3
"""A model of the stock Telemetrix firmwares, for tests (no Telemetrix firmware is in a
package registry, so CI's device end is this model of their documented behaviour).

It plays Telemetrix4RpiPico or Telemetrix4Arduino on a pseudo-terminal (the USB serial port
their Python clients open) and Telemetrix4Esp32 on a TCP listener (the Wi-Fi server), keeps
pin modes and levels, records every command frame it receives, and emits reports when a
control channel asks. Standard library only.

    python3 telemetrix_device.py --family rpi_pico            # pty
    python3 telemetrix_device.py --family esp32 --tcp-port 0  # TCP, ephemeral port
    python3 telemetrix_device.py --family rpi_pico --link /tmp/x/ttyACM0  # pty behind a
        # stable symlink: a replugged board (drop_link, reset) is back at the same path

On start it prints one JSON line: {"ready": true, "family": ..., "control_port": N,
"device": "/dev/pts/K" | null, "tcp_port": M | null}. The control channel (TCP on
127.0.0.1:control_port) takes one JSON object per line and answers one JSON line each:

    {"op": "input", "pin": P, "value": V}      drive a digital input (report if it changed)
    {"op": "analog", "pin": P, "value": V}     drive an analog input (report per differential)
    {"op": "sonar", "trigger": T, "cm": C, "hundredths": H}   one sonar reading
    {"op": "i2c", "address": A, "register": R, "data": [..]}  what a later i2c read returns
    {"op": "send", "hex": "03 02 0f 01"}       raw bytes to the host, as they are
    {"op": "drop_link"}                        unplug and replug: the link closes (a TCP
                                               connection; a pty is replaced by a new one,
                                               at the same --link path), state is kept
    {"op": "reset"}                            device reset: state cleared, link dropped
    {"op": "log", "clear": B}                  every frame received: [{"hex", "name"}]
                                               (and forget them, atomically, if B)
    {"op": "clear_log"}                        forget the recorded frames
    {"op": "state"}                            pin modes, levels, reporting flags
    {"op": "wait_frames", "count": N, "timeout": S}  block until N frames are logged

What it models, by firmware source (read, not copied):
- Telemetrix4RpiPico (MrYsLab/Telemetrix4RpiPico, Telemetrix4RpiPico.c, include/
  Telemetrix4RpiPico.h, firmware 1.1): get_next_command (length, then id + payload);
  set_pin_mode for digital in/pull-up/pull-down (reporting flag from the 4th byte), output,
  PWM, analog (differential, reporting flag); digital_write; pwm_write; modify_reporting
  (digital enable/disable only for pins whose mode is set); stop/enable_all_reports;
  get_firmware_version -> [3, 5, 1, 1]; get_pico_unique_id -> 8 bytes (6 id bytes, two 0s);
  i2c_begin/read/write (read answers [port, address, register, count, data]); sonar_new;
  loop back; reset_board (watchdog reboot: state cleared, link dropped). scan_digital_inputs
  reports a pin when its level differs from the last reported one, which starts at 0 — so a
  pull-up input reports 1 as soon as its mode is set, as on a board.
- Telemetrix4Esp32 (MrYsLab/Telemetrix4Esp32, examples/Telemetrix4Esp32WIFI/
  Telemetrix4Esp32WIFI.ino, firmware 3.1.0): one TCP client at a time; pin state survives a
  client's disconnect (init_pin_structures runs only in setup); set_pin_mode (input, pull-up,
  pull-down, output, analog, LEDC PWM), digital_write, analog_write, servo attach/write/
  detach, modify_reporting (analog and digital only for pins whose mode is set),
  get_firmware_version -> [4, 5, 3, 1, 0], i2c_begin/read ([count, address, register, data])
  /write, sonar_new (reports [trigger, cm_hi, cm_lo]), stop/enable_all_reports,
  reset (ESP.restart: state cleared, link dropped).
- Telemetrix4Arduino (MrYsLab/Telemetrix4Arduino, Telemetrix4Arduino.ino, 5.4.4):
  are_you_there -> I_AM_HERE [1]; firmware -> [5, 4, 4]; get_features -> 0x3f (every
  feature compiled in); reset (reset_data: reporting stopped, pin state cleared); the same
  digital/analog handling as above.

What it does not model: reports the firmware would send by itself — a real board re-scans
inputs continuously (an analog pin with differential 0 is re-reported on every scan, tens of
times a second); the model scans only when the control channel changes an input, so a test
sees exactly the reports it caused. No electrical behaviour (PWM waveforms, servo timing,
I2C bus errors, sonar timing), no DHT/SPI/OneWire/stepper/NeoPixel (recorded, not acted on),
no USB re-enumeration delay, no baud-rate pacing. Where the firmware has undefined behaviour
(an unknown command id indexes past its command table; a frame longer than its 30-byte
buffer), the model records the frame, counts it in "state" and ignores it.
"""

import argparse
import contextlib
import json
import os
import select
import socket
import sys
import time
import tty

PICO, ESP32, ARDUINO = "rpi_pico", "esp32", "arduino"

# Command ids per family (the clients' private_constants.py; see banyan-proto's telemetrix::ids).
COMMANDS = {
    PICO: {0: "loop_back", 1: "set_pin_mode", 2: "digital_write", 3: "pwm_write",
           4: "modify_reporting", 5: "get_firmware_version", 6: "retrieve_pico_unique_id",
           7: "servo_attach", 8: "servo_write", 9: "servo_detach", 10: "i2c_begin",
           11: "i2c_read", 12: "i2c_write", 13: "sonar_new", 14: "dht_new",
           15: "stop_all_reports", 16: "enable_all_reports", 17: "reset_data",
           18: "reset_board", 19: "initialize_neo_pixels", 20: "show_neo_pixels",
           21: "set_neo_pixel", 22: "clear_all_neo_pixels", 23: "fill_neo_pixels",
           24: "spi_init", 25: "spi_write_blocking", 26: "spi_read_blocking",
           27: "spi_set_format", 28: "spi_cs_control"},
    ESP32: {0: "loop_back", 1: "set_pin_mode", 2: "digital_write", 3: "analog_write",
            4: "modify_reporting", 5: "get_firmware_version", 6: "servo_attach",
            7: "servo_write", 8: "servo_detach", 9: "i2c_begin", 10: "i2c_read",
            11: "i2c_write", 12: "sonar_new", 13: "dht_new", 14: "stop_all_reports",
            15: "set_analog_scanning_interval", 16: "enable_all_reports",
            17: "analog_out_attach", 18: "analog_out_detach", 19: "dac_write", 20: "reset",
            21: "dac_disable"},
    ARDUINO: {0: "loop_back", 1: "set_pin_mode", 2: "digital_write", 3: "analog_write",
              4: "modify_reporting", 5: "get_firmware_version", 6: "are_u_there",
              7: "servo_attach", 8: "servo_write", 9: "servo_detach", 10: "i2c_begin",
              11: "i2c_read", 12: "i2c_write", 13: "sonar_new", 14: "dht_new",
              15: "stop_all_reports", 16: "set_analog_scanning_interval",
              17: "enable_all_reports", 18: "reset", 54: "get_features",
              55: "sonar_disable", 56: "sonar_enable"},
}

# SET_PIN_MODE mode bytes that are digital inputs, and the pull-up ones (idle level 1).
DIGITAL_INPUTS = {PICO: {0, 3, 4}, ESP32: {0, 2, 9}, ARDUINO: {0, 2}}
PULL_UPS = {PICO: {3}, ESP32: {2}, ARDUINO: {2}}
OUTPUT, ANALOG = 1, {PICO: 5, ESP32: 3, ARDUINO: 3}
REPORT_IDS = {
    PICO: {"digital": 2, "analog": 3, "sonar": 11, "i2c": 10},
    ESP32: {"digital": 2, "analog": 3, "sonar": 10, "i2c": 9},
    ARDUINO: {"digital": 2, "analog": 3, "sonar": 11, "i2c": 10},
}
MAX_FRAME_LENGTH = {PICO: 30, ESP32: 31, ARDUINO: 31}


class Device:
    """Pin state and protocol logic of one board; bytes in, bytes out (no I/O here)."""

    def __init__(self, family):
        self.family = family
        self.log = []
        self.ignored = 0
        self.clear_state()

    def clear_state(self):
        self.modes = {}          # pin -> mode byte
        self.levels = {}         # pin -> level driven by the control channel (inputs)
        self.outputs = {}        # pin -> last value written (outputs, PWM, servo)
        self.digital_reporting = {}
        self.last_digital = {}   # pin -> last reported level (starts at 0, as the firmware)
        self.analog = {}         # pin -> {"reporting", "differential", "last", "value"}
        self.stop_reports = False
        self.i2c_data = {}       # (address, register) -> bytes
        self.servos = {}
        self.sonars = []
        self.rx = bytearray()

    def frame(self, report_id, payload):
        body = bytes([report_id]) + bytes(payload)
        return bytes([len(body)]) + body

    def feed(self, data):
        """Bytes from the host; returns (bytes to send back, event) where event is None,
        "reset" (the board restarts: drop the link)."""
        self.rx += data
        out = bytearray()
        event = None
        while self.rx:
            length = self.rx[0]
            if len(self.rx) < 1 + length:
                break
            frame = bytes(self.rx[:1 + length])
            del self.rx[:1 + length]
            if length == 0:
                self.log.append({"hex": frame.hex(" "), "name": "empty"})
                self.ignored += 1
                continue
            cmd, payload = frame[1], frame[2:]
            name = COMMANDS[self.family].get(cmd, "unknown")
            self.log.append({"hex": frame.hex(" "), "name": name})
            if name == "unknown" or length > MAX_FRAME_LENGTH[self.family]:
                self.ignored += 1
                continue
            reply, ev = self.command(name, payload)
            out += reply
            event = event or ev
            if ev == "reset":
                self.rx.clear()
                break
            out += self.scan()
        return bytes(out), event

    def b(self, payload, i):
        return payload[i] if i < len(payload) else 0

    def command(self, name, p):
        f = self.family
        if name == "loop_back":
            return self.frame(0, [self.b(p, 0)]), None
        if name == "get_firmware_version":
            version = {PICO: [1, 1], ESP32: [3, 1, 0], ARDUINO: [5, 4, 4]}[f]
            return self.frame(5, version), None
        if name == "retrieve_pico_unique_id":
            return self.frame(6, [0xE6, 0x61, 0x38, 0x52, 0x83, 0x4A, 0, 0]), None
        if name == "are_u_there":
            return self.frame(6, [1]), None
        if name == "get_features":
            return self.frame(20, [0x3F]), None
        if name == "set_pin_mode":
            pin, mode = self.b(p, 0), self.b(p, 1)
            if mode in DIGITAL_INPUTS[f]:
                self.modes[pin] = mode
                self.digital_reporting[pin] = bool(self.b(p, 2))
                self.levels[pin] = 1 if mode in PULL_UPS[f] else self.levels.get(pin, 0)
            elif mode == ANALOG[f]:
                self.analog[pin] = {"reporting": bool(self.b(p, 4)),
                                    "differential": (self.b(p, 2) << 8) + self.b(p, 3),
                                    "last": 0, "value": self.analog.get(pin, {}).get("value", 0)}
            else:
                self.modes[pin] = mode
            return b"", None
        if name == "digital_write":
            self.outputs[self.b(p, 0)] = self.b(p, 1)
            return b"", None
        if name in ("pwm_write", "analog_write"):
            self.outputs[self.b(p, 0)] = (self.b(p, 1) << 8) + self.b(p, 2)
            return b"", None
        if name == "servo_attach":
            self.servos[self.b(p, 0)] = [(self.b(p, 1) << 8) + self.b(p, 2),
                                         (self.b(p, 3) << 8) + self.b(p, 4)]
            return b"", None
        if name == "servo_write":
            self.outputs[self.b(p, 0)] = self.b(p, 1)
            return b"", None
        if name == "modify_reporting":
            sub, pin = self.b(p, 0), self.b(p, 1)
            if sub == 0:
                for k in self.digital_reporting:
                    self.digital_reporting[k] = False
                for a in self.analog.values():
                    a["reporting"] = False
            elif sub in (1, 3):
                # Pico: any ADC; ESP32/Arduino: only pins whose analog mode is set.
                if pin in self.analog or f == PICO:
                    self.analog.setdefault(pin, {"reporting": False, "differential": 0,
                                                 "last": 0, "value": 0})
                    self.analog[pin]["reporting"] = sub == 1
            elif sub in (2, 4):
                if pin in self.modes:
                    self.digital_reporting[pin] = sub == 2
            return b"", None
        if name == "stop_all_reports":
            self.stop_reports = True
            return b"", None
        if name == "enable_all_reports":
            self.stop_reports = False
            return b"", None
        if name == "sonar_new":
            self.sonars.append((self.b(p, 0), self.b(p, 1)))
            return b"", None
        if name == "i2c_read":
            return self.i2c_read(p), None
        if (f == PICO and name == "reset_board") or (f == ESP32 and name == "reset"):
            self.clear_state()
            return b"", "reset"
        if f == ARDUINO and name == "reset":
            self.clear_state()
            self.stop_reports = True
            return b"", None
        return b"", None  # recorded only (i2c_begin/write, dht, spi, neopixel, ...)

    def i2c_read(self, p):
        f = self.family
        if f == PICO:
            port, address, register, count = p[0], p[1], p[2], p[3]
        else:
            address, register, count = p[0], p[1], p[2]
            port = p[4] if f == ARDUINO else None
        data = list(self.i2c_data.get((address, register), [0] * count))[:count]
        data += [0] * (count - len(data))
        head = {PICO: [port, address, register, count], ESP32: [count, address, register],
                ARDUINO: [port, count, address, register]}[f]
        return self.frame(REPORT_IDS[f]["i2c"], head + data)

    def scan(self):
        """One pass of scan_digital_inputs / scan_analog_inputs."""
        if self.stop_reports:
            return b""
        out = bytearray()
        for pin in sorted(self.modes):
            if self.modes[pin] in DIGITAL_INPUTS[self.family] and self.digital_reporting.get(pin):
                level = self.levels.get(pin, 0)
                if level != self.last_digital.get(pin, 0):
                    self.last_digital[pin] = level
                    out += self.frame(2, [pin, level])
        for pin in sorted(self.analog):
            a = self.analog[pin]
            if a["reporting"] and a.get("pending"):
                a["pending"] = False
                if abs(a["value"] - a["last"]) >= a["differential"]:
                    a["last"] = a["value"]
                    out += self.frame(3, [pin, a["value"] >> 8, a["value"] & 0xFF])
        return bytes(out)

    def control(self, msg):
        """A control-channel request; returns (reply dict, bytes to send, event)."""
        op = msg.get("op")
        if op == "input":
            self.levels[msg["pin"]] = msg["value"]
            return {"ok": True}, self.scan(), None
        if op == "analog":
            a = self.analog.setdefault(msg["pin"], {"reporting": False, "differential": 0,
                                                    "last": 0, "value": 0})
            a["value"], a["pending"] = msg["value"], True
            return {"ok": True}, self.scan(), None
        if op == "sonar":
            if self.family == PICO:
                payload = [msg["trigger"], msg["cm"], msg.get("hundredths", 0)]
            else:
                payload = [msg["trigger"], msg["cm"] >> 8, msg["cm"] & 0xFF]
            out = b"" if self.stop_reports else self.frame(REPORT_IDS[self.family]["sonar"], payload)
            return {"ok": True}, out, None
        if op == "i2c":
            self.i2c_data[(msg["address"], msg["register"])] = msg["data"]
            return {"ok": True}, b"", None
        if op == "send":
            return {"ok": True}, bytes.fromhex(msg["hex"]), None
        if op == "drop_link":
            return {"ok": True}, b"", "drop"
        if op == "reset":
            self.clear_state()
            return {"ok": True}, b"", "reset"
        if op == "log":
            frames = self.log
            if msg.get("clear"):
                self.log = []
            return {"ok": True, "frames": frames}, b"", None
        if op == "clear_log":
            self.log = []
            return {"ok": True}, b"", None
        if op == "state":
            return {"ok": True, "modes": self.modes, "outputs": self.outputs,
                    "levels": self.levels, "digital_reporting": self.digital_reporting,
                    "analog": self.analog, "stop_reports": self.stop_reports,
                    "servos": self.servos, "sonars": self.sonars,
                    "ignored": self.ignored}, b"", None
        return {"ok": False, "error": f"unknown op {op!r}"}, b"", None


class Link:
    """The device end: a pty (Pico, Arduino) or a TCP listener (ESP32)."""

    def __init__(self, family, tcp_port, link=None):
        self.family = family
        self.link = link
        self.listener = None
        self.conn = None
        self.master = self.slave = None
        self.device = None
        self.tcp_port = None
        if tcp_port is None:
            self.open_pty()
        else:
            self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.listener.bind(("127.0.0.1", tcp_port))
            self.listener.listen(1)
            self.tcp_port = self.listener.getsockname()[1]

    def open_pty(self):
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        tty.setraw(self.master)
        self.device = os.ttyname(self.slave)
        os.set_blocking(self.master, False)
        if self.link:
            tmp = self.link + ".new"
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            os.symlink(self.device, tmp)
            os.replace(tmp, self.link)
            self.device = self.link

    def fds(self):
        if self.listener is not None:
            return [self.conn or self.listener]
        return [self.master]

    def readable(self, fd):
        """Bytes from the host, or None when the host went away."""
        if self.listener is not None:
            if self.conn is None:
                self.conn, _ = self.listener.accept()
                self.conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                return b""
            data = self.conn.recv(4096)
            if not data:
                self.conn.close()
                self.conn = None
                return None
            return data
        try:
            return os.read(self.master, 4096)
        except (BlockingIOError, InterruptedError):
            return b""
        except OSError:
            return b""

    def write(self, data):
        if not data:
            return
        if self.listener is not None:
            if self.conn is not None:
                try:
                    self.conn.sendall(data)
                except OSError:
                    self.conn = None
            return
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.master, view)
                view = view[n:]
            except BlockingIOError:
                select.select([], [self.master], [], 1.0)

    def drop(self):
        """Unplug: a TCP peer sees the connection close; a serial peer sees the pty hang up
        (the pty is replaced by a new one at the same path when possible)."""
        if self.listener is not None:
            if self.conn is not None:
                self.conn.close()
                self.conn = None
            return
        os.close(self.master)
        os.close(self.slave)
        self.open_pty()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--family", choices=[PICO, ESP32, ARDUINO], required=True)
    ap.add_argument("--tcp-port", type=int, default=None,
                    help="serve the board on TCP 127.0.0.1:PORT (0 = ephemeral) instead of a pty")
    ap.add_argument("--link", default=None,
                    help="a symlink to create to the pty (kept pointing at the current one)")
    args = ap.parse_args()

    device = Device(args.family)
    link = Link(args.family, args.tcp_port, args.link)
    control = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    control.bind(("127.0.0.1", 0))
    control.listen(4)
    clients = {}
    waiters = []  # (conn, count, deadline)
    print(json.dumps({"ready": True, "family": args.family,
                      "control_port": control.getsockname()[1], "device": link.device,
                      "tcp_port": link.tcp_port}), flush=True)

    def handle_event(event):
        if event in ("drop", "reset"):
            link.drop()

    while True:
        now = time.monotonic()
        for w in list(waiters):
            conn, count, deadline = w
            if len(device.log) >= count or now >= deadline:
                waiters.remove(w)
                reply = {"ok": len(device.log) >= count, "frames": len(device.log)}
                try:
                    conn.sendall((json.dumps(reply) + "\n").encode())
                except OSError:
                    pass
        rlist = [control] + list(clients) + link.fds()
        ready, _, _ = select.select(rlist, [], [], 0.05)
        for fd in ready:
            if fd is control:
                conn, _ = control.accept()
                clients[conn] = bytearray()
            elif fd in clients:
                data = fd.recv(65536)
                if not data:
                    del clients[fd]
                    fd.close()
                    continue
                clients[fd] += data
                while b"\n" in clients[fd]:
                    line, _, rest = bytes(clients[fd]).partition(b"\n")
                    clients[fd] = bytearray(rest)
                    msg = json.loads(line)
                    if msg.get("op") == "wait_frames":
                        waiters.append((fd, msg["count"], now + msg.get("timeout", 10)))
                        continue
                    reply, out, event = device.control(msg)
                    link.write(out)
                    handle_event(event)
                    fd.sendall((json.dumps(reply) + "\n").encode())
            else:
                data = link.readable(fd)
                if data is None or not data:
                    continue
                out, event = device.feed(data)
                link.write(out)
                handle_event(event)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
