//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

/// A reqwest client using the ring provider (the workspace builds reqwest without a default one).
pub fn client() -> reqwest::Client {
    client_with(None, None)
}

/// A client trusting `ca_pem` and presenting `identity` (cert + key PEM) when given.
pub fn client_with(ca_pem: Option<&[u8]>, identity: Option<(&[u8], &[u8])>) -> reqwest::Client {
    use rustls_pki_types::pem::PemObject;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    if let Some(ca) = ca_pem {
        for c in rustls_pki_types::CertificateDer::pem_slice_iter(ca) {
            roots.add(c.expect("ca pem")).expect("add ca");
        }
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots);
    let tls = match identity {
        Some((cert, key)) => {
            let certs: Vec<_> = rustls_pki_types::CertificateDer::pem_slice_iter(cert)
                .map(|c| c.expect("cert"))
                .collect();
            let key = rustls_pki_types::PrivateKeyDer::from_pem_slice(key).expect("key");
            builder.with_client_auth_cert(certs, key).expect("client auth")
        }
        None => builder.with_no_client_auth(),
    };
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

/// POST a Kea command body; returns status and body text.
pub async fn post(url: &str, body: &str) -> (u16, String) {
    post_with(&client(), url, body).await.expect("request")
}

/// POST with a given client.
pub async fn post_with(c: &reqwest::Client, url: &str, body: &str) -> Result<(u16, String), reqwest::Error> {
    let r = c
        .post(url)
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await?;
    let status = r.status().as_u16();
    Ok((status, r.text().await?))
}

/// POST and parse the first answer element.
pub async fn command(url: &str, body: &str) -> serde_json::Value {
    let (status, text) = post(url, body).await;
    assert_eq!(status, 200, "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).expect("json answer");
    v[0].clone()
}
