//! kea-sim: a faithful, stateful simulator of the ISC Kea 3.0 DHCPv4 control API.
