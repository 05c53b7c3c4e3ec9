"""Pico sensor end-to-end check: a real Python Banyan component against the unmodified
`sensor_uart` / `sensor_usb` firmware running in the RP2040 harness (scripts/pico-emu.sh
--app sensor). The harness's control port sets the temperature sensor's ADC input.

A plain python-banyan 3.17 component (BanyanBase, unchanged) that:

1. sets ADC channel 4 (the temperature sensor) to --raw1 and waits for readings on
   'sensor/pico' whose temperature is the datasheet's T = 27 - (raw*3.3/4096 - 0.706)/0.001721
   for that value (within 0.01 °C), --readings of them in a row; every reading must be exactly
   {'count': int, 'temperature': float} with counts increasing;
2. the same with --raw2 (a second value, a second temperature);
3. measures the period between readings in *emulated* time (the firmware's own clock, read
   from the harness at each arrival), sends {'command': 'rate', 'ms': --rate-ms} on
   'command/pico' and measures again: passes when the new period is within 35 % of --rate-ms
   and the old one within 35 % of 100 ms (arrival jitter of the gateway and the backplane is
   a few ms; emulated time is what the firmware times itself with, so machine load does not
   move it);
4. sends {'command': 'stop'} (every 0.5 s) until no reading has arrived for 2 s.

Exits 0 when every step passed, 1 with a reason otherwise (or after --timeout seconds).
"""

import argparse
import sys
import time

from python_banyan.banyan_base import BanyanBase

from pico_control import PicoControl


def say(*words):
    print(*words, flush=True)


def celsius(raw):
    return 27.0 - (raw * 3.3 / 4096.0 - 0.706) / 0.001721


class Failed(Exception):
    pass


class SensorPeer(BanyanBase):
    def __init__(self, args):
        super().__init__(back_plane_ip_address=args.back_plane_ip_address,
                         publisher_port=args.publisher_port,
                         subscriber_port=args.subscriber_port,
                         process_name='PicoSensorPeer', loop_time=0.01,
                         receive_loop_idle_addition=self.tick)
        self.args = args
        self.ctl = PicoControl(args.control)
        self.deadline = time.monotonic() + args.timeout
        self.last_count = None
        self.steps = [('temperature', args.raw1), ('temperature', args.raw2),
                      ('period', None), ('rate', None), ('stop', None)]
        self.result = None
        self.begin_step()
        self.set_subscriber_topic('sensor/pico')
        say('PicoSensorPeer ready: reading sensor/pico')

    def command(self, payload):
        self.publish_payload(payload, 'command/pico')

    def emulated(self):
        return self.ctl.request('status')['emulated_s']

    def begin_step(self):
        kind, raw = self.steps[0]
        self.in_a_row = 0
        self.arrivals = []
        if kind == 'temperature':
            self.ctl.request('set_adc', channel=4, value=raw)
            self.want = celsius(raw)
            say('ADC channel 4 set to %d: expecting %.3f °C' % (raw, self.want))
        elif kind == 'rate':
            say('sending rate', self.args.rate_ms, 'ms on command/pico')
            self.command({'command': 'rate', 'ms': self.args.rate_ms})
        elif kind == 'stop':
            say('sending stop on command/pico')
            self.command({'command': 'stop'})
            self.stop_sent = time.monotonic()
            self.last_arrival = time.monotonic()

    def next_step(self):
        self.steps.pop(0)
        if not self.steps:
            raise Done()
        self.begin_step()

    def period_ms(self):
        gaps = [b - a for a, b in zip(self.arrivals, self.arrivals[1:])]
        return 1000.0 * sum(gaps) / len(gaps)

    def incoming_message_processing(self, topic, payload):
        if topic != 'sensor/pico':
            return
        if not isinstance(payload, dict) or set(payload) != {'count', 'temperature'}:
            raise Failed('not a {count, temperature} map: %r' % (payload,))
        count, temperature = payload['count'], payload['temperature']
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise Failed('count is not a non-negative int: %r' % (payload,))
        if not isinstance(temperature, float):
            raise Failed('temperature is not a float: %r' % (payload,))
        if self.last_count is not None and count <= self.last_count:
            raise Failed('count went from %d to %d' % (self.last_count, count))
        self.last_count = count
        kind, _ = self.steps[0]
        say('reading:', payload)
        if kind == 'temperature':
            if abs(temperature - self.want) <= 0.01:
                self.in_a_row += 1
                if self.in_a_row >= self.args.readings:
                    say('step ok: %d readings of %.3f °C' % (self.in_a_row, self.want))
                    self.next_step()
            else:
                self.in_a_row = 0
        elif kind in ('period', 'rate'):
            if kind == 'rate' and self.in_a_row == 0:
                # The first reading after the command may still be on the old period.
                self.in_a_row = 1
                self.command({'command': 'rate', 'ms': self.args.rate_ms})
                return
            self.arrivals.append(self.emulated())
            if len(self.arrivals) > self.args.readings + 1:
                period = self.period_ms()
                wanted = 100.0 if kind == 'period' else float(self.args.rate_ms)
                say('period %s: %.1f ms of emulated time over %d readings (want %.0f ms)'
                    % ('before rate' if kind == 'period' else 'after rate', period,
                       len(self.arrivals) - 1, wanted))
                if abs(period - wanted) > 0.35 * wanted:
                    raise Failed('period %.1f ms, want %.0f ms' % (period, wanted))
                self.next_step()
        elif kind == 'stop':
            self.last_arrival = time.monotonic()

    def tick(self):
        now = time.monotonic()
        if now > self.deadline:
            raise Failed('timed out in step %s' % (self.steps[0][0],))
        if self.steps[0][0] == 'stop':
            if now - self.last_arrival > 2.0:
                say('step ok: readings stopped after the stop command')
                raise Done()
            if now - self.stop_sent > 0.5:
                self.command({'command': 'stop'})
                self.stop_sent = now


class Done(Exception):
    pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('-b', dest='back_plane_ip_address', default='127.0.0.1')
    parser.add_argument('-p', dest='publisher_port', default='43124')
    parser.add_argument('-s', dest='subscriber_port', default='43125')
    parser.add_argument('--control', type=int, required=True, help="the harness's control port")
    parser.add_argument('--raw1', type=int, default=876, help='first ADC value (27.14 °C)')
    parser.add_argument('--raw2', type=int, default=820, help='second ADC value (53.35 °C)')
    parser.add_argument('--readings', type=int, default=5)
    parser.add_argument('--rate-ms', type=int, default=250)
    parser.add_argument('--timeout', type=float, default=90.0)
    args = parser.parse_args()
    peer = None
    try:
        peer = SensorPeer(args)
        peer.receive_loop()
    except Done:
        say('PicoSensorPeer PASS')
        return 0
    except Failed as e:
        print('PicoSensorPeer FAIL: %s' % e, file=sys.stderr, flush=True)
        return 1
    finally:
        if peer is not None:
            peer.clean_up()
    return 1


if __name__ == '__main__':
    sys.exit(main())
