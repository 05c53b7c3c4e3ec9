//! [`Esp32Connector`]: the ESP32's Wi-Fi link, whose address the bus may give late
//! (`esp32gw`'s `{'command': 'ip_address', 'address': …}`) or change.

use std::io;
use std::net::IpAddr;

use super::ESP32_PORT;
use crate::link::{Connector, Link, TcpConnector};

/// A TCP connector to an ESP32 whose address may not be known yet; until it is, every
/// attempt fails with `NotConnected` (counted by the reconnect machine, said once).
#[derive(Debug, Clone, Default)]
pub struct Esp32Connector {
    tcp: Option<TcpConnector>,
}

impl Esp32Connector {
    /// A connector to `address` (see [`normalise`]), or to nothing yet.
    pub fn new(address: Option<&str>) -> Self {
        Self {
            tcp: address.map(|a| TcpConnector::new(normalise(a))),
        }
    }

    /// The `HOST:PORT` it opens, if known.
    pub fn address(&self) -> Option<&str> {
        self.tcp.as_ref().map(|t| t.address.as_str())
    }
}

/// `HOST[:PORT]` with the firmware's port 31336 when none is given; a bare IPv6 address
/// gets brackets.
pub fn normalise(address: &str) -> String {
    let address = address.trim();
    if let Ok(ip) = address.parse::<IpAddr>() {
        return std::net::SocketAddr::new(ip, ESP32_PORT).to_string();
    }
    if address
        .rsplit_once(':')
        .is_some_and(|(_, port)| port.parse::<u16>().is_ok())
    {
        address.to_owned()
    } else {
        format!("{address}:{ESP32_PORT}")
    }
}

impl Connector for Esp32Connector {
    fn open(&mut self) -> io::Result<Box<dyn Link>> {
        match &mut self.tcp {
            Some(tcp) => tcp.open(),
            None => Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "no board address yet: send {'command': 'ip_address', 'address': ...} or use \
                 --address",
            )),
        }
    }

    fn describe(&self) -> String {
        match &self.tcp {
            Some(tcp) => tcp.describe(),
            None => "esp32 (address not known yet)".to_owned(),
        }
    }

    fn retarget(&mut self, address: &str) -> bool {
        let address = normalise(address);
        if self.address() == Some(address.as_str()) {
            return false;
        }
        self.tcp = Some(TcpConnector::new(address));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_get_the_firmware_port_unless_they_name_one() {
        assert_eq!(normalise("192.168.2.7"), "192.168.2.7:31336");
        assert_eq!(normalise("esp.local"), "esp.local:31336");
        assert_eq!(normalise("127.0.0.1:4000"), "127.0.0.1:4000");
        assert_eq!(normalise("::1"), "[::1]:31336");
    }

    #[test]
    fn without_an_address_opening_fails_and_a_new_address_retargets_once() {
        let mut connector = Esp32Connector::new(None);
        let error = connector.open().err().map(|e| e.kind());
        assert_eq!(error, Some(io::ErrorKind::NotConnected));
        assert!(connector.retarget("10.0.0.5"));
        assert!(!connector.retarget("10.0.0.5:31336"));
        assert_eq!(connector.describe(), "tcp 10.0.0.5:31336");
    }
}
