//! [`BackplaneConfig`]: where a backplane binds and what it allows.

use crate::access::AccessControl;
use crate::backplane::subscriptions::SubscriptionLimits;
use crate::limits::Limits;
use crate::net::{DEFAULT_PUBLISHER_PORT, DEFAULT_SUBSCRIBER_PORT};

/// How to bind a backplane.
#[derive(Debug, Clone)]
pub struct BackplaneConfig {
    /// Address to bind, `0.0.0.0` (all IPv4 interfaces) by default.
    pub bind: String,
    /// Port components publish to; `0` picks a free port.
    pub publisher_port: u16,
    /// Port components subscribe on; `0` picks a free port.
    pub subscriber_port: u16,
    /// Message size limit and queue budget.
    pub limits: Limits,
    /// Who may connect (open by default, as Python Banyan).
    pub access: AccessControl,
    /// What one subscriber connection may subscribe to (see [`crate::backplane::subscriptions`]).
    pub subscriptions: SubscriptionLimits,
}

impl Default for BackplaneConfig {
    fn default() -> Self {
        Self {
            bind: "0.0.0.0".into(),
            publisher_port: DEFAULT_PUBLISHER_PORT,
            subscriber_port: DEFAULT_SUBSCRIBER_PORT,
            limits: Limits::default(),
            access: AccessControl::open(),
            subscriptions: SubscriptionLimits::default(),
        }
    }
}

impl BackplaneConfig {
    /// Loopback with OS-chosen ports: what tests and the one-process demo use.
    pub fn ephemeral_loopback() -> Self {
        Self {
            bind: "127.0.0.1".into(),
            publisher_port: 0,
            subscriber_port: 0,
            ..Self::default()
        }
    }
}
