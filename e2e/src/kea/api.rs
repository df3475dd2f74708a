//! The few Kea commands the harness sends itself (listing hosts, adding a foreign host, giving a
//! lease), over the control API. Listing pages with `reservation-get-page` per subnet: the same call
//! the operator's sweep uses, so a large subnet never blocks Kea (SPEC §4).

use std::net::Ipv4Addr;

use serde_json::{Value, json};
use testenv::kea::KeaClient;

use super::{BackendError, KeaHost, layout};

/// Sends `command` and returns answer element 0 when its result is in `ok`.
pub async fn command(
    client: &KeaClient,
    command: &str,
    arguments: Value,
    ok: &[i64],
) -> Result<Value, BackendError> {
    let answer = client.command0(command, Some(arguments)).await?;
    match answer.get("result").and_then(Value::as_i64) {
        Some(r) if ok.contains(&r) => Ok(answer),
        _ => Err(BackendError::Answer {
            command: command.to_string(),
            answer: answer.to_string(),
        }),
    }
}

/// Every hw-address reservation of every subnet of the layout.
pub async fn list_hosts(client: &KeaClient) -> Result<Vec<KeaHost>, BackendError> {
    let mut hosts = Vec::new();
    for subnet in layout::subnets() {
        let mut args = json!({"subnet-id": subnet.id, "limit": 500});
        loop {
            let answer = command(client, "reservation-get-page", args.clone(), &[0, 3]).await?;
            let page = &answer["arguments"];
            let list = page["hosts"].as_array().cloned().unwrap_or_default();
            if answer["result"] == 3 || list.is_empty() {
                break;
            }
            hosts.extend(list.iter().filter_map(host_from_kea));
            let next = &page["next"];
            args["from"] = next["from"].clone();
            args["source-index"] = next["source-index"].clone();
        }
    }
    Ok(hosts)
}

/// A host as Kea prints it; `None` for hosts identified otherwise than by hw-address.
pub fn host_from_kea(h: &Value) -> Option<KeaHost> {
    Some(KeaHost {
        subnet_id: u32::try_from(h.get("subnet-id")?.as_u64()?).ok()?,
        hw_address: h.get("hw-address")?.as_str()?.to_ascii_lowercase(),
        ip: h.get("ip-address")?.as_str()?.parse().ok()?,
        user_context: h.get("user-context").cloned(),
    })
}

/// `reservation-add` into memory.
pub async fn add_host(client: &KeaClient, host: &KeaHost) -> Result<(), BackendError> {
    let mut reservation = json!({
        "subnet-id": host.subnet_id,
        "hw-address": host.hw_address,
        "ip-address": host.ip.to_string(),
    });
    if let Some(ctx) = &host.user_context {
        reservation["user-context"] = ctx.clone();
    }
    command(
        client,
        "reservation-add",
        json!({"reservation": reservation, "operation-target": "memory"}),
        &[0],
    )
    .await
    .map(|_| ())
}

/// `lease4-add`; `Ok(false)` when the address is already leased (result 4).
pub async fn add_lease(
    client: &KeaClient,
    ip: Ipv4Addr,
    mac: &str,
    subnet_id: u32,
) -> Result<bool, BackendError> {
    let answer = command(
        client,
        "lease4-add",
        json!({"ip-address": ip.to_string(), "hw-address": mac, "subnet-id": subnet_id, "valid-lft": 4000}),
        &[0, 4],
    )
    .await?;
    Ok(answer["result"] == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_read_as_kea_prints_them() {
        let h = json!({"subnet-id": 2, "hw-address": "AA:BB:CC:DD:EE:01", "ip-address": "10.101.1.10",
                       "user-context": {"kea-operator": {"instance": "x"}}, "hostname": ""});
        let host = host_from_kea(&h).expect("host");
        assert_eq!(host.subnet_id, 2);
        assert_eq!(host.hw_address, "aa:bb:cc:dd:ee:01");
        assert!(host.owned_by_instance("x"));
        assert!(
            host_from_kea(&json!({"subnet-id": 1, "duid": "01:02", "ip-address": "10.100.1.1"})).is_none()
        );
    }
}
