//! HTTPS control sockets: server certificate, optional and required client certificates.

mod common;

use common::{client_with, post_with};
use kea_sim::KeaSim;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa, KeyPair, SanType,
};

struct Pki {
    ca: String,
    server_cert: String,
    server_key: String,
    client_cert: String,
    client_key: String,
}

fn pki() -> Result<Pki, rcgen::Error> {
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;
    let mut sp = CertificateParams::new(Vec::<String>::new())?;
    sp.subject_alt_names = vec![SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into())];
    sp.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let sk = KeyPair::generate()?;
    let server = sp.signed_by(&sk, &ca)?;
    let mut cp = CertificateParams::new(vec!["kea-client".to_string()])?;
    cp.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let ck = KeyPair::generate()?;
    let client = cp.signed_by(&ck, &ca)?;
    Ok(Pki {
        ca: ca.pem(),
        server_cert: server.pem(),
        server_key: sk.serialize_pem(),
        client_cert: client.pem(),
        client_key: ck.serialize_pem(),
    })
}

const LIST: &str = r#"{"command":"list-commands"}"#;

#[tokio::test]
async fn required_client_certificates_are_enforced() {
    let p = pki().unwrap();
    let sim = KeaSim::builder()
        .tls(
            p.server_cert.as_bytes(),
            p.server_key.as_bytes(),
            p.ca.as_bytes(),
            true,
        )
        .start()
        .await;
    assert!(sim.url().starts_with("https://127.0.0.1:"));
    let with_cert = client_with(
        Some(p.ca.as_bytes()),
        Some((p.client_cert.as_bytes(), p.client_key.as_bytes())),
    );
    let (status, body) = post_with(&with_cert, &sim.url(), LIST).await.unwrap();
    assert_eq!(status, 200, "{body}");
    let without = client_with(Some(p.ca.as_bytes()), None);
    assert!(
        post_with(&without, &sim.url(), LIST).await.is_err(),
        "handshake refused without a client certificate"
    );
    let config = serde_json::from_str::<serde_json::Value>(
        &post_with(&with_cert, &sim.url(), r#"{"command":"config-get"}"#)
            .await
            .unwrap()
            .1,
    )
    .unwrap();
    assert_eq!(
        config[0]["arguments"]["Dhcp4"]["control-sockets"][0]["socket-type"],
        "https"
    );
}

#[tokio::test]
async fn optional_client_certificates() {
    let p = pki().unwrap();
    let sim = KeaSim::builder()
        .tls(
            p.server_cert.as_bytes(),
            p.server_key.as_bytes(),
            p.ca.as_bytes(),
            false,
        )
        .start()
        .await;
    let without = client_with(Some(p.ca.as_bytes()), None);
    assert_eq!(post_with(&without, &sim.url(), LIST).await.unwrap().0, 200);
}

#[tokio::test]
async fn bad_tls_material_is_refused_at_start() {
    let err = KeaSim::builder()
        .tls(b"not pem", b"not pem", b"", true)
        .try_start()
        .await
        .unwrap_err();
    assert_eq!(err.category(), "tls", "{err}");
}
