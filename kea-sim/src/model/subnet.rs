//! Subnets and pools as the simulator needs them (selection, range checks, allocation).

use std::net::Ipv4Addr;

/// An address pool (`first-last`, inclusive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool {
    /// First address.
    pub start: Ipv4Addr,
    /// Last address.
    pub end: Ipv4Addr,
}

impl Pool {
    /// True when the pool holds `ip`.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        self.start <= ip && ip <= self.end
    }

    /// Kea's printed form: a prefix when the range is exactly one, else `first-last`.
    pub fn to_text(&self) -> String {
        let first = u32::from(self.start);
        let last = u32::from(self.end);
        let size = u64::from(last) - u64::from(first) + 1;
        if size.is_power_of_two() {
            let len = 32 - size.trailing_zeros();
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            if first & !mask == 0 {
                return format!("{}/{len}", self.start);
            }
        }
        format!("{}-{}", self.start, self.end)
    }

    /// Parse Kea's pool syntax: `a - b`, `a-b` or `prefix/len`.
    pub fn parse(text: &str) -> Result<Pool, String> {
        let t = text.trim();
        if let Some((a, b)) = t.split_once('-') {
            let start: Ipv4Addr = a.trim().parse().map_err(|_| {
                format!(
                    "Failed to convert string to address '{}': Invalid argument",
                    a.trim()
                )
            })?;
            let end: Ipv4Addr = b.trim().parse().map_err(|_| {
                format!(
                    "Failed to convert string to address '{}': Invalid argument",
                    b.trim()
                )
            })?;
            if start > end {
                return Err(format!(
                    "Upper boundary is smaller than lower boundary: {start}-{end}"
                ));
            }
            return Ok(Pool { start, end });
        }
        if let Some((a, l)) = t.split_once('/') {
            let addr: Ipv4Addr = a.trim().parse().map_err(|_| {
                format!(
                    "Failed to convert string to address '{}': Invalid argument",
                    a.trim()
                )
            })?;
            let len: u32 = l
                .trim()
                .parse()
                .map_err(|_| format!("Failed to parse pool definition: {text}"))?;
            if len > 32 {
                return Err(format!("Invalid prefix length specified for pool: {len}"));
            }
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            let first = u32::from(addr) & mask;
            return Ok(Pool {
                start: Ipv4Addr::from(first),
                end: Ipv4Addr::from(first | !mask),
            });
        }
        Err(format!(
            "pool definition must be a range (first - last) or a prefix: {text}"
        ))
    }
}

/// A configured IPv4 subnet.
#[derive(Clone, Debug, PartialEq)]
pub struct Subnet {
    /// Subnet id.
    pub id: u32,
    /// Prefix address as configured.
    pub addr: Ipv4Addr,
    /// Prefix length.
    pub len: u8,
    /// Pools.
    pub pools: Vec<Pool>,
    /// Valid lifetime after inheritance (subnet, shared network, global, default 7200).
    pub valid_lifetime: u32,
    /// Name of the shared network holding the subnet.
    pub shared_network: Option<String>,
}

impl Subnet {
    fn mask(&self) -> u32 {
        if self.len == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.len))
        }
    }

    /// `Subnet::inRange`.
    pub fn in_range(&self, ip: Ipv4Addr) -> bool {
        (u32::from(ip) & self.mask()) == (u32::from(self.addr) & self.mask())
    }

    /// `Subnet::toText` (`10.100.0.0/16`).
    pub fn to_text(&self) -> String {
        format!("{}/{}", self.addr, self.len)
    }

    /// True when a pool holds `ip`.
    pub fn in_pool(&self, ip: Ipv4Addr) -> bool {
        self.pools.iter().any(|p| p.contains(ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pools_parse_and_print_like_kea() {
        let p = Pool::parse("10.100.1.10 - 10.100.1.200").unwrap();
        assert_eq!(p.to_text(), "10.100.1.10-10.100.1.200");
        let p = Pool::parse("10.0.0.0/24").unwrap();
        assert_eq!(p.to_text(), "10.0.0.0/24");
        assert_eq!(Pool::parse("10.0.0.4-10.0.0.7").unwrap().to_text(), "10.0.0.4/30");
        assert!(Pool::parse("10.0.0.9-10.0.0.1").is_err());
        assert!(Pool::parse("nonsense").is_err());
    }

    #[test]
    fn range_checks_use_the_mask() {
        let s = Subnet {
            id: 1,
            addr: "10.100.0.0".parse().unwrap(),
            len: 16,
            pools: vec![],
            valid_lifetime: 4000,
            shared_network: None,
        };
        assert!(s.in_range("10.100.200.1".parse().unwrap()));
        assert!(!s.in_range("10.200.0.1".parse().unwrap()));
        assert_eq!(s.to_text(), "10.100.0.0/16");
    }
}
