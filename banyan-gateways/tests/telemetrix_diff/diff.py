#!/usr/bin/env python3
"""Differential harness for Telemetrix board gateways (issue 27 item 3).

Runs one OneGPIO script (script_<gateway>.json) from a python-banyan peer against a
gateway and the device model (banyan-testkit/python/telemetrix_device.py), and records, per
step, the frames the gateway wrote to the device and the messages it published. The Python
gateways of s3-extend 1.35 (`rpgw` on tmx-pico-aio, `esp32gw` on telemetrix_aio_esp32) made
the committed recordings (<gateway>.expected.jsonl); the Rust gateways are compared against
the same files with the same script.

    diff.py --gateway rpgw --record > rpgw.expected.jsonl     # re-record (Python gateway)
    diff.py --gateway rpgw --check rpgw.expected.jsonl       # compare with the recording
    diff.py --gateway rpgw --check F --command 'target/debug/rpgw'   # another implementation
    diff.py --gateway rpgw --script script_rpgw_unplug.json --check rpgw_unplug.expected.jsonl
    diff.py --gateway rpgw --check rpgw.expected.jsonl --command target/debug/rpgw \
            --differences rust_rpgw.differences.json     # ours, with its differences on purpose

A differences file lists, per step of the Python recording, what the Rust gateway does
instead and why ({"steps": {"9": {"why": ..., "device": [...], "published": [...],
"gateway_alive": true}}}); every step not listed must match the Python recording exactly,
and every listed step must match the stated difference exactly.

Everything runs in a private network namespace (`unshare -n`, as root; CI runs as root):
loopback only, so the ESP32 model listens on the firmware's fixed port 31336 and the
python-banyan backplane on its default ports 43124/43125 without depending on a port being
free on the machine — s3-extend's esp32gw cannot be told another device port.

Normalisation (the only differences the comparison ignores): every `timestamp` field is
replaced by "T" and the time stamp the clients append to an i2c_data value string by "T".
"""

import argparse
import contextlib
import io
import json
import os
import re
import msgpack
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
MODEL = os.path.join(REPO, "banyan-testkit", "python", "telemetrix_device.py")
BIN = os.path.dirname(sys.executable)

GATEWAYS = {
    "rpgw": {"family": "rpi_pico", "to": "to_rpi_pico_gateway", "from": "from_rpi_pico_gateway"},
    "esp32gw": {"family": "esp32", "to": "to_esp32_gateway", "from": "from_esp32_gateway"},
}
QUIET = 0.6      # a step is over when nothing happened for this long...
STEP_MAX = 6.0   # ...or after this long


def in_private_namespace():
    """Re-runs this script in a new network namespace with loopback up, unless already."""
    if os.environ.get("TMX_DIFF_NETNS") == "1":
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        return
    env = dict(os.environ, TMX_DIFF_NETNS="1")
    cmd = ["unshare", "--net", "--", sys.executable, os.path.abspath(__file__)] + sys.argv[1:]
    sys.exit(subprocess.call(cmd, env=env))


class Child:
    """A process this harness started; ended by its handle (also on failure)."""

    def __init__(self, argv, **kw):
        self.argv = argv
        self.proc = subprocess.Popen(argv, start_new_session=True, **kw)

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)


class Model:
    def __init__(self, family, children, workdir):
        argv = [sys.executable, MODEL, "--family", family]
        if family == "esp32":
            argv += ["--tcp-port", "31336"]
        else:
            # A stable path, as a replugged Pico's /dev/ttyACM0.
            argv += ["--link", os.path.join(workdir, "ttyACM0")]
        child = Child(argv, stdout=subprocess.PIPE, text=True)
        children.append(child)
        self.info = json.loads(child.proc.stdout.readline())
        self.sock = socket.create_connection(("127.0.0.1", self.info["control_port"]))
        self.rfile = self.sock.makefile("r")

    def ask(self, **msg):
        self.sock.sendall((json.dumps(msg) + "\n").encode())
        return json.loads(self.rfile.readline())

    def take_frames(self):
        return [f["hex"] for f in self.ask(op="log", clear=True)["frames"]]


def normalise(payload):
    out = dict(payload)
    if "timestamp" in out:
        out["timestamp"] = "T"
    if out.get("report") == "i2c_data" and isinstance(out.get("value"), str):
        out["value"] = re.sub(r"\d+\.\d+$", "T", out["value"])
    return out


class Peer:
    """The python-banyan peer that sends the script's commands and collects reports."""

    def __init__(self, to_topic, from_topic):
        from python_banyan.banyan_base import BanyanBase
        import zmq
        self.zmq = zmq
        with contextlib.redirect_stdout(io.StringIO()):
            self.base = BanyanBase(back_plane_ip_address="127.0.0.1", process_name="tmx-diff",
                                   loop_time=0.01)
        self.base.set_subscriber_topic(from_topic)
        self.to_topic = to_topic

    def send(self, payload):
        self.base.publish_payload(payload, self.to_topic)

    def receive(self):
        got = []
        while True:
            try:
                topic, data = self.base.subscriber.recv_multipart(self.zmq.NOBLOCK)
            except self.zmq.error.Again:
                return got
            got.append({"topic": topic.decode(), "payload": normalise(msgpack.unpackb(data, raw=False))})

    def close(self):
        with contextlib.suppress(Exception):
            self.base.clean_up()


def settle(model, peer, gateway, expect=None):
    """Collects device frames and publications until the step is quiet. With `expect` (the
    recorded step, when checking) it first waits, up to STEP_MAX, for as many frames and
    publications as were recorded and for the recorded liveness, so a slow machine does not
    move a late frame into the next step; then it waits for quiet as when recording."""
    frames, published = [], []
    start = last = time.monotonic()
    while True:
        time.sleep(0.05)
        new_frames, new_pub = model.take_frames(), peer.receive()
        now = time.monotonic()
        if new_frames or new_pub:
            frames += new_frames
            published += new_pub
            last = now
        if now - start >= STEP_MAX:
            break
        if expect is not None and (len(frames) < len(expect["device"])
                                   or len(published) < len(expect["published"])
                                   or gateway.alive() != expect["gateway_alive"]):
            continue
        if now - last >= QUIET:
            break
    return {"device": frames, "published": published, "gateway_alive": gateway.alive()}


def run(gateway_name, script_path, command, workdir, expected=None):
    spec = GATEWAYS[gateway_name]
    with open(script_path) as f:
        script = json.load(f)
    children = []
    records = []
    peer = None
    try:
        backplane = Child([os.path.join(BIN, "backplane")], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
        children.append(backplane)
        model = Model(spec["family"], children, workdir)
        argv = (command.split() if command else [os.path.join(BIN, gateway_name)])
        argv += ["-b", "127.0.0.1"]
        if spec["family"] == "rpi_pico":
            argv += ["-c", model.info["device"]]
        time.sleep(0.5)
        peer = Peer(spec["to"], spec["from"])
        gateway = Child(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        children.append(gateway)
        time.sleep(1.0)
        expect = iter(expected or [])
        records.append(dict({"step": "start"}, **settle(model, peer, gateway, next(expect, None))))
        for i, step in enumerate(script):
            if "send" in step:
                peer.send(step["send"])
            else:
                model.ask(**step["device"])
            record = {"step": i, "action": step}
            record.update(settle(model, peer, gateway, next(expect, None)))
            records.append(record)
    finally:
        if peer:
            peer.close()
        for child in reversed(children):
            child.stop()
    return records


def apply_differences(want, path):
    """The recording with the listed steps replaced by the stated differences."""
    with open(path) as f:
        steps = json.load(f)["steps"]
    out = []
    for line in want:
        record = json.loads(line)
        change = steps.get(str(record["step"]))
        if change is not None:
            for key in ("device", "published", "gateway_alive"):
                record[key] = change[key]
        out.append(json.dumps(record, sort_keys=True))
    unknown = set(steps) - {str(json.loads(w)["step"]) for w in want}
    if unknown:
        sys.exit(f"telemetrix diff: {path} names steps the recording lacks: {sorted(unknown)}")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gateway", choices=sorted(GATEWAYS), required=True)
    ap.add_argument("--command", help="gateway command line to test instead of s3-extend's")
    ap.add_argument("--script", help="the script to play (default: script_<gateway>.json here)")
    ap.add_argument("--differences", metavar="FILE",
                    help="steps where the implementation under test differs on purpose")
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--record", action="store_true", help="print the recording")
    mode.add_argument("--check", metavar="FILE", help="compare with a recording")
    args = ap.parse_args()
    in_private_namespace()
    script = args.script or os.path.join(HERE, f"script_{args.gateway}.json")
    want = None
    if args.check:
        with open(args.check) as f:
            want = [line.rstrip("\n") for line in f if line.strip()]
        if args.differences:
            want = apply_differences(want, args.differences)
    with tempfile.TemporaryDirectory(prefix="tmx-diff-") as workdir:
        records = run(args.gateway, script, args.command, workdir,
                      [json.loads(w) for w in want] if want else None)
    lines = [json.dumps(r, sort_keys=True) for r in records]
    if args.record:
        print("\n".join(lines))
        return
    if want != lines:
        import difflib
        sys.stdout.writelines(difflib.unified_diff([w + "\n" for w in want], [g + "\n" for g in lines],
                                                   args.check, "this run"))
        print(f"telemetrix diff: {args.gateway} differs from {args.check}", file=sys.stderr)
        sys.exit(1)
    stated = f" with the differences stated in {args.differences}" if args.differences else ""
    print(f"telemetrix diff: {args.command or args.gateway}: {len(lines)} steps match "
          f"{args.check}{stated}")


if __name__ == "__main__":
    main()
