//! Raw ZMTP 3.0 bytes of a SUB peer, written once for the tests and faults that flood the
//! backplane faster than libzmq would let a real socket (the subscription-bound tests of
//! banyan-host and the `banyan-faults` subscription flood): a hostile peer keeps no trie.

/// A ZMTP 3.0 greeting (NULL mechanism, client) and a READY command announcing a SUB socket:
/// what a libzmq SUB sends before its subscriptions.
pub fn sub_handshake() -> Vec<u8> {
    // Signature, version 3.0.
    let mut bytes = vec![0xff, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x7f, 3, 0];
    // Mechanism, 20 bytes zero-padded.
    let mut mechanism = [0u8; 20];
    mechanism[..4].copy_from_slice(b"NULL");
    bytes.extend_from_slice(&mechanism);
    bytes.push(0); // as-server: no
    bytes.extend_from_slice(&[0; 31]); // filler
    let mut ready = b"\x05READY".to_vec();
    ready.push(11);
    ready.extend_from_slice(b"Socket-Type");
    ready.extend_from_slice(&3u32.to_be_bytes());
    ready.extend_from_slice(b"SUB");
    bytes.push(0x04); // short command
    bytes.push(u8::try_from(ready.len()).expect("READY under 256 bytes"));
    bytes.extend_from_slice(&ready);
    bytes
}

/// Appends one ZMTP 3.0 subscription message of `topic` (a short frame: flags, length,
/// `0x01`, the topic) to `out`.
///
/// # Panics
/// When `topic` is 255 bytes or longer (a short frame's limit).
pub fn subscription(topic: &[u8], out: &mut Vec<u8>) {
    out.push(0x00);
    out.push(u8::try_from(topic.len() + 1).expect("topic under 255 bytes"));
    out.push(0x01);
    out.extend_from_slice(topic);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_greeting_is_64_bytes_and_ready_names_a_sub_socket() {
        let bytes = sub_handshake();
        assert_eq!(&bytes[..10], &[0xff, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x7f]);
        assert_eq!(&bytes[12..16], b"NULL");
        assert_eq!(bytes[64], 0x04);
        assert_eq!(usize::from(bytes[65]), bytes.len() - 66);
        assert!(bytes.ends_with(b"Socket-Type\0\0\0\x03SUB"));
    }

    #[test]
    fn a_subscription_is_a_short_frame_with_the_subscribe_byte() {
        let mut out = Vec::new();
        subscription(b"ab", &mut out);
        assert_eq!(out, [0x00, 3, 0x01, b'a', b'b']);
    }
}
