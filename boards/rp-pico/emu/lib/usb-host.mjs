// A USB host for the emulated RP2040's device controller, doing what Linux's cdc_acm driver
// does with a CDC-ACM device: enumerate it, configure it, and, while a program has the tty
// open (here: while a TCP client is connected), assert DTR and RTS and move bytes over the
// bulk endpoints.
//
// Written for this harness instead of the package's `USBCDC` helper, which differs from a
// real host in two ways that break embassy-usb (measured: echo_usb restarted about once a
// second, 24 times in one run):
//
// 1. It sends SET_CONTROL_LINE_STATE with bmRequestType 0x20 (class, recipient *device*).
//    USB CDC 1.2 (PSTN 6.3.12) defines it as an *interface* request: bmRequestType 0x21,
//    wIndex = the communication interface. Linux sends 0x21. embassy-usb routes class
//    requests by recipient, so the device-recipient request reaches no class handler and
//    DTR is never seen.
// 2. It answers every arming of the bulk OUT endpoint at once: with queued bytes, or with a
//    zero-length packet when nothing is queued. A real host sends a bulk OUT packet only when
//    it has data (USB 2.0 5.8; RP2040 datasheet 4.1, DPSRAM buffer control: the device's
//    armed buffer simply stays AVAILABLE, and the controller NAKs nothing because no OUT token comes). A
//    zero-length packet ends a transfer: embassy-usb 0.6's `BufferedReceiver::read` returns
//    it as `Ok(0)`, which embedded-io defines as end of file, so the client starts over (read
//    from the code; it matches the restarts measured with the helper). Here an armed OUT
//    buffer waits until the TCP client sends bytes. The controller's own OUT-buffer bug is
//    corrected in fixes.mjs (`fixUsbOut`).

import {
  DescriptorType,
  createSetupPacket,
  getDescriptorPacket,
  setDeviceAddressPacket,
  setDeviceConfigurationPacket,
  DataDirection,
  SetupType,
  SetupRecipient,
} from 'rp2040js';

const CDC_SET_CONTROL_LINE_STATE = 0x22;
const CDC_DTR = 1 << 0;
const CDC_RTS = 1 << 1;
const CLASS_CDC_COMMUNICATION = 0x02;
const CLASS_CDC_DATA = 0x0a;
const CONFIGURATION_HEADER = 9;
/** Bytes held for the device before it arms its OUT endpoint; more are dropped (counted). */
const OUT_QUEUE_LIMIT = 64 * 1024;

/** Endpoints and interfaces of a CDC-ACM configuration descriptor. */
export function parseCdcConfiguration(descriptors) {
  const result = { commInterface: -1, in: -1, out: -1 };
  let inData = false;
  for (let at = 0; at + 2 <= descriptors.length; ) {
    const length = descriptors[at];
    const type = descriptors[at + 1];
    if (length < 2 || at + length > descriptors.length) break;
    if (type === DescriptorType.Interface && length >= 9) {
      const number = descriptors[at + 2];
      const klass = descriptors[at + 5];
      if (klass === CLASS_CDC_COMMUNICATION && result.commInterface < 0) {
        result.commInterface = number;
      }
      inData = klass === CLASS_CDC_DATA;
    }
    if (inData && type === DescriptorType.Endpoint && length >= 7) {
      const address = descriptors[at + 2];
      if ((descriptors[at + 3] & 3) === 2) {
        if (address & 0x80) result.in = address & 0xf;
        else result.out = address & 0xf;
      }
    }
    at += length;
  }
  return result;
}

export class CdcHost {
  /**
   * @param {(line:string)=>void} log
   * @param {(bytes:Uint8Array)=>void} onData device -> host bytes
   */
  constructor(log, onData) {
    this.log = log;
    this.onData = onData;
    this.outQueue = [];
    this.outDropped = 0;
    this.portOpen = false;
    this.enumerations = 0;
  }

  /** Attaches to a (fresh) chip's USB controller, as plugging the cable in. */
  attach(usb) {
    this.usb = usb;
    this.state = 'detached';
    this.descriptorsSize = null;
    this.descriptors = [];
    this.config = null;
    this.outArmed = 0; // size of the armed OUT buffer, 0 when not armed
    this.lineState = null; // last SET_CONTROL_LINE_STATE value sent
    this.pendingLineState = null;
    usb.onUSBEnabled = () => {
      this.state = 'reset';
      usb.resetDevice();
    };
    usb.onResetReceived = () => {
      this.state = 'address';
      usb.sendSetupPacket(setDeviceAddressPacket(1));
    };
    usb.onEndpointWrite = (endpoint, buffer) => this.deviceWrote(endpoint, buffer);
    usb.onEndpointRead = (endpoint, size) => this.deviceArmed(endpoint, size);
  }

  /** The TCP client connected (a program opened the tty) or went away (closed it). */
  setPortOpen(open) {
    this.portOpen = open;
    if (!open) this.outQueue = [];
    this.sendLineState();
  }

  /** Host -> device bytes from the TCP client. */
  send(bytes) {
    for (const byte of bytes) {
      if (this.outQueue.length >= OUT_QUEUE_LIMIT) {
        this.outDropped++;
        continue;
      }
      this.outQueue.push(byte);
    }
    this.fillOut();
  }

  get configured() {
    return this.state === 'configured';
  }

  deviceWrote(endpoint, buffer) {
    const usb = this.usb;
    if (endpoint === 0) {
      if (buffer.length === 0) {
        // Status stage of a control OUT request (SET_ADDRESS, SET_CONFIGURATION, ...).
        if (this.state === 'address') {
          this.state = 'config-header';
          usb.sendSetupPacket(getDescriptorPacket(DescriptorType.Configration, CONFIGURATION_HEADER));
        } else if (this.state === 'configuring') {
          this.state = 'configured';
          this.enumerations++;
          this.log(
            `USB: configured (CDC interface ${this.config.commInterface}, ` +
              `bulk IN ${this.config.in}, OUT ${this.config.out})`,
          );
          this.sendLineState();
        } else if (this.state === 'line-state') {
          this.state = 'configured';
          this.sendLineState();
        }
        return;
      }
      if (this.state === 'config-header' && buffer.length >= CONFIGURATION_HEADER) {
        this.descriptorsSize = buffer[2] | (buffer[3] << 8);
        this.descriptors = [];
        this.state = 'config-full';
        usb.sendSetupPacket(getDescriptorPacket(DescriptorType.Configration, this.descriptorsSize));
      } else if (this.state === 'config-full') {
        this.descriptors.push(...buffer);
        if (this.descriptors.length >= this.descriptorsSize) {
          this.config = parseCdcConfiguration(this.descriptors);
          if (this.config.in < 0 || this.config.out < 0 || this.config.commInterface < 0) {
            this.log('USB: the configuration has no CDC-ACM interface with bulk endpoints');
            this.state = 'failed';
            return;
          }
          this.state = 'configuring';
          usb.sendSetupPacket(setDeviceConfigurationPacket(1));
        }
      }
      return;
    }
    if (this.config && endpoint === this.config.in && buffer.length > 0) {
      // A closed tty discards what the device sends, as Linux does.
      if (this.portOpen) this.onData(buffer);
    }
  }

  deviceArmed(endpoint, size) {
    if (!this.config || endpoint !== this.config.out) return;
    this.outArmed = size;
    this.fillOut();
  }

  fillOut() {
    if (!this.outArmed || this.outQueue.length === 0 || !this.configured) return;
    const count = Math.min(this.outArmed, this.outQueue.length);
    const packet = Uint8Array.from(this.outQueue.splice(0, count));
    this.outArmed = 0;
    this.usb.endpointReadDone(this.config.out, packet);
  }

  /** Sends SET_CONTROL_LINE_STATE when configured and the wanted DTR/RTS changed. */
  sendLineState() {
    if (this.state !== 'configured') return;
    const wanted = this.portOpen ? CDC_DTR | CDC_RTS : 0;
    if (wanted === this.lineState) {
      this.fillOut();
      return;
    }
    this.lineState = wanted;
    this.state = 'line-state';
    this.log(`USB: SET_CONTROL_LINE_STATE DTR=${wanted & CDC_DTR ? 1 : 0} (port ${this.portOpen ? 'opened' : 'closed'})`);
    this.usb.sendSetupPacket(
      createSetupPacket({
        dataDirection: DataDirection.HostToDevice,
        type: SetupType.Class,
        recipient: SetupRecipient.Interface,
        bRequest: CDC_SET_CONTROL_LINE_STATE,
        wValue: wanted,
        wIndex: this.config.commInterface,
        wLength: 0,
      }),
    );
  }
}
