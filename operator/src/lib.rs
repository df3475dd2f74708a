//! kea-operator: keeps ISC Kea DHCPv4 host reservations equal to what `NetworkConfiguration`
//! resources declare. See `docs/architecture.md`.
