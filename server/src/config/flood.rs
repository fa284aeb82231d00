//! The flags of flood control and the connection throttle: how fast one client, and one
//! address, may go.

use protocol::Cidr;

use crate::flood::{Exempt, FloodLimits, Rate};
use crate::limits::{CONNECT_BURST, CONNECT_PER_SECOND, FLOOD_BURST, FLOOD_PER_SECOND};

#[derive(Debug, Clone, clap::Args)]
pub struct FloodFlags {
    /// Messages a client may send at once before --flood-rate applies.
    #[arg(long, default_value_t = FLOOD_BURST, value_name = "N")]
    pub flood_burst: u32,

    /// Messages a second a client may send after its burst (fractions allowed: 0.5). Faster
    /// ones are refused with the time to wait; a client that keeps on is disconnected. What a
    /// client used is kept for its account (or, for a guest, its address) after it
    /// disconnects, until refilled: reconnecting does not start afresh.
    #[arg(long, default_value_t = FLOOD_PER_SECOND, value_name = "N")]
    pub flood_rate: f64,

    /// No flood control at all (for benchmarks on a trusted network).
    #[arg(long, conflicts_with_all = ["flood_burst", "flood_rate"])]
    pub no_flood_control: bool,

    /// New connections one address (IPv4, or IPv6 /64) may open at once before --connect-rate
    /// applies.
    #[arg(long, default_value_t = CONNECT_BURST, value_name = "N")]
    pub connect_burst: u32,

    /// New connections a second from one address after its burst (0.1: one every ten
    /// seconds). Faster ones are turned away with `throttled` and the time to wait.
    #[arg(long, default_value_t = CONNECT_PER_SECOND, value_name = "N")]
    pub connect_rate: f64,

    /// No limit on new connections over time (--max-connections-per-ip still applies).
    #[arg(long, conflicts_with_all = ["connect_burst", "connect_rate"])]
    pub no_connect_throttle: bool,

    /// Connections from these networks (a CIDR or one address; repeatable) are limited one
    /// connection at a time only: no connection throttle, and nothing they used is kept
    /// after they disconnect. Default: loopback (127.0.0.0/8 and ::1). `none`: no network
    /// is exempt.
    #[arg(long = "throttle-exempt", value_name = "CIDR",
          default_values = ["127.0.0.0/8", "::1/128"], value_parser = parse_exempt)]
    pub throttle_exempt: Vec<ExemptNet>,
}

/// One `--throttle-exempt` value: a network, or `none`.
#[derive(Debug, Clone, PartialEq)]
pub struct ExemptNet(Option<Cidr>);

fn parse_exempt(text: &str) -> Result<ExemptNet, String> {
    if text == "none" {
        return Ok(ExemptNet(None));
    }
    text.parse::<Cidr>().map(|net| ExemptNet(Some(net))).map_err(|e| e.to_string())
}

impl FloodFlags {
    /// Per-connection flood control; `None` with --no-flood-control.
    pub fn limits(&self) -> Option<FloodLimits> {
        (!self.no_flood_control).then(|| FloodLimits {
            messages: Rate::per_second(self.flood_burst, self.flood_rate),
            refusals: Rate::per_second(
                crate::limits::FLOOD_REFUSALS,
                self.flood_rate.max(FLOOD_PER_SECOND),
            ),
            ..FloodLimits::default()
        })
    }

    /// New connections per address over time; `None` with --no-connect-throttle.
    pub fn connects(&self) -> Option<Rate> {
        (!self.no_connect_throttle).then(|| Rate::per_second(self.connect_burst, self.connect_rate))
    }

    pub fn exempt(&self) -> Exempt {
        Exempt::new(self.throttle_exempt.iter().filter_map(|net| net.0))
    }
}
