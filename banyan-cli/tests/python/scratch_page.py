"""The Scratch 3 OneGPIO extensions' WebSocket traffic, played with `websockets`.

Sends exactly what an extension (MrYsLab/s3onegpio, scratch-vm/src/extensions/
scratch3_onegpioArduino/index.js and scratch3_onegpioRpiPico/index.js) sends: `{"id":
"to_<board>_gateway"}` on open, then for each block its set-mode message (once per pin and
mode) and its command, as `JSON.stringify` writes them (no spaces, the block's key order).
The reporter blocks' reports come back as the extension parses them.

1. Warm-up: the `Read Digital Pin 2` block's `set_mode_digital_input` is repeated until its
   report arrives (the board's subscription reaches the backplane at an unknown moment).
2. The script (BOARD `arduino`): Write Digital Pin 13 1, Write PWM Pin 9 50 %, Tone Pin 3
   1000 Hz 500 ms, Write Servo Pin 5 90 Deg., Read Analog Pin 1, Read SONAR T 7 E 8, Read
   Digital Pin 4. BOARD `rpi_pico`: the same without tone (the Pico extension has no tone
   block), PWM sent as the percentage (clamped to 99) and digital reads with `"pull": "^"`.
3. Prints every report after the warm-up as `report <json.dumps(parsed)>` and `raw <text>`,
   until the report of pin 4; then `PAGE DONE`. Exits 1 with `PAGE FAILED: ...` on a timeout.

    scratch_page.py ws://127.0.0.1:PORT/ [arduino|rpi_pico]
"""

import json
import sys
import time

from websockets.sync.client import connect


def stringify(message):
    # JSON.stringify: no spaces, insertion order.
    return json.dumps(message, separators=(',', ':'))


ARDUINO = [
    {"command": "set_mode_digital_output", "pin": 13},
    {"command": "digital_write", "pin": 13, "value": 1},
    {"command": "set_mode_pwm", "pin": 9},
    {"command": "pwm_write", "pin": 9, "value": 128},  # Math.round(255 * (50 / 100))
    {"command": "set_mode_tone", "pin": 3},
    {"command": "play_tone", "pin": 3, "freq": 1000, "duration": 500},
    {"command": "set_mode_servo", "pin": 5},
    {"command": "servo_position", "pin": 5, "position": 90},
    {"command": "set_mode_analog_input", "pin": 1},
    {"command": "set_mode_sonar", "trigger_pin": 7, "echo_pin": 8},
    {"command": "set_mode_digital_input", "pin": 4},
]

RPI_PICO = [
    {"command": "set_mode_digital_output", "pin": 13},
    {"command": "digital_write", "pin": 13, "value": 1},
    {"command": "set_mode_pwm", "pin": 9},
    {"command": "pwm_write", "pin": 9, "value": 50},  # the percentage, at most 99
    {"command": "set_mode_servo", "pin": 5},
    {"command": "servo_position", "pin": 5, "position": 90},
    {"command": "set_mode_analog_input", "pin": 1},
    {"command": "set_mode_sonar", "trigger_pin": 7, "echo_pin": 8},
    {"command": "set_mode_digital_input", "pin": 4, "pull": "^"},
]

BOARDS = {
    'arduino': (ARDUINO, {"command": "set_mode_digital_input", "pin": 2}),
    'rpi_pico': (RPI_PICO, {"command": "set_mode_digital_input", "pin": 2, "pull": "^"}),
}


def fail(message):
    print('PAGE FAILED:', message, flush=True)
    sys.exit(1)


def main():
    url = sys.argv[1]
    board = sys.argv[2] if len(sys.argv) > 2 else 'arduino'
    script, warm_up = BOARDS[board]
    with connect(url, open_timeout=30) as ws:
        ws.send(stringify({"id": "to_%s_gateway" % board}))
        deadline = time.time() + 40
        sent = 0
        while True:
            if time.time() > deadline:
                fail('no report for the warm-up after %d sends' % sent)
            ws.send(stringify(warm_up))
            sent += 1
            try:
                report = json.loads(ws.recv(timeout=0.5))
            except TimeoutError:
                continue
            if report.get('report') == 'digital_input' and report.get('pin') == 2:
                break
        print('warm-up sends', sent, flush=True)
        for message in script:
            ws.send(stringify(message))
        deadline = time.time() + 30
        while True:
            remaining = deadline - time.time()
            if remaining <= 0:
                fail('no report for pin 4')
            try:
                text = ws.recv(timeout=remaining)
            except TimeoutError:
                continue
            report = json.loads(text)
            if report.get('report') == 'digital_input' and report.get('pin') == 2:
                continue  # a late answer to a repeated warm-up
            print('raw', text, flush=True)
            print('report', json.dumps(report), flush=True)
            if report.get('report') == 'digital_input' and report.get('pin') == 4:
                break
        print('PAGE DONE', flush=True)


if __name__ == '__main__':
    main()
