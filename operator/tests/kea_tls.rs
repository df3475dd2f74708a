//! TLS between the client and Kea: a private CA, mutual TLS, a wrong CA, an expired certificate,
//! the server-name override, insecure mode, the cipher-suite policy, and the client-certificate
//! checks made at start.

mod kea_support;

use std::path::PathBuf;

use kea_operator::config::{AuthConfig, KeaConfig};
use kea_operator::kea::{KeaError, Transport};
use kea_support::rsa_keys::{RSA_2048, Rsa1024Public};
use kea_support::tls_server::{Ca, Pem, ServerTls, TlsKea};
use kea_support::{client_with, config, crypto};
use rcgen::{ExtendedKeyUsagePurpose, KeyPair};
use rustls::crypto::ring::cipher_suite as cs;

struct Files(tempfile::TempDir);

impl Files {
    fn new() -> Self {
        Files(tempfile::tempdir().expect("temp dir"))
    }
    fn write(&self, name: &str, content: &str) -> PathBuf {
        let path = self.0.path().join(name);
        std::fs::write(&path, content).expect("write a test file");
        path
    }
}

fn server(identity: Pem) -> ServerTls {
    ServerTls {
        identity,
        client_ca: None,
        suites: None,
    }
}

fn trusting(url: &str, files: &Files, ca: &Ca) -> KeaConfig {
    let mut c = config(url);
    c.tls.ca_file = Some(files.write("ca.pem", &ca.pem()));
    c
}

#[tokio::test]
async fn a_private_ca_is_trusted_from_the_ca_file() {
    crypto();
    let ca = Ca::new("private ca");
    let kea = TlsKea::start(server(ca.server(&["127.0.0.1", "localhost"]))).await;
    let files = Files::new();
    let status = client_with(&trusting(&kea.url(), &files, &ca))
        .status_get()
        .await
        .unwrap();
    assert_eq!(status.pid, Some(1));
    // The same by name.
    let by_name = format!("https://localhost:{}", kea.addr.port());
    client_with(&trusting(&by_name, &files, &ca))
        .status_get()
        .await
        .unwrap();
}

#[tokio::test]
async fn the_mozilla_roots_do_not_trust_a_private_ca() {
    crypto();
    let ca = Ca::new("private ca");
    let kea = TlsKea::start(server(ca.server(&["127.0.0.1"]))).await;
    let e = client_with(&config(&kea.url())).status_get().await.unwrap_err();
    assert!(matches!(e, KeaError::Tls { .. }), "{e:?}");
}

#[tokio::test]
async fn a_wrong_ca_is_a_tls_failure_in_the_auth_class() {
    crypto();
    let ca = Ca::new("private ca");
    let other = Ca::new("someone else");
    let kea = TlsKea::start(server(ca.server(&["127.0.0.1"]))).await;
    let files = Files::new();
    let e = client_with(&trusting(&kea.url(), &files, &other))
        .status_get()
        .await
        .unwrap_err();
    assert!(matches!(e, KeaError::Tls { .. }), "{e:?}");
    assert_eq!(e.category(), "auth");
    assert!(e.to_string().to_lowercase().contains("certificate"), "{e}");
    assert!(e.is_server_failure());
}

#[tokio::test]
async fn an_expired_certificate_is_refused() {
    crypto();
    let ca = Ca::new("private ca");
    let expired = ca.server_with(&["127.0.0.1"], |p| {
        p.not_before = rcgen::date_time_ymd(2020, 1, 1);
        p.not_after = rcgen::date_time_ymd(2021, 1, 1);
    });
    let kea = TlsKea::start(server(expired)).await;
    let files = Files::new();
    let e = client_with(&trusting(&kea.url(), &files, &ca))
        .status_get()
        .await
        .unwrap_err();
    assert!(matches!(e, KeaError::Tls { .. }), "{e:?}");
    assert!(e.to_string().to_lowercase().contains("expired"), "{e}");
}

#[tokio::test]
async fn the_server_name_override_verifies_against_the_configured_name() {
    crypto();
    let ca = Ca::new("private ca");
    // The certificate names only the service name, while we connect to the address.
    let kea = TlsKea::start(server(ca.server(&["kea.internal"]))).await;
    let files = Files::new();
    let plain = trusting(&kea.url(), &files, &ca);
    let e = client_with(&plain).status_get().await.unwrap_err();
    assert!(
        matches!(e, KeaError::Tls { .. }),
        "without the override the name does not match: {e:?}"
    );

    let mut named = plain.clone();
    named.tls.server_name = Some("kea.internal".into());
    client_with(&named).status_get().await.unwrap();

    // The override still verifies: a name the certificate does not carry fails, and so does a
    // certificate from another CA.
    named.tls.server_name = Some("other.internal".into());
    assert!(matches!(
        client_with(&named).status_get().await,
        Err(KeaError::Tls { .. })
    ));
    let stranger = TlsKea::start(server(Ca::new("stranger").server(&["kea.internal"]))).await;
    let mut wrong_ca = trusting(&stranger.url(), &files, &ca);
    wrong_ca.tls.server_name = Some("kea.internal".into());
    assert!(matches!(
        client_with(&wrong_ca).status_get().await,
        Err(KeaError::Tls { .. })
    ));
}

#[tokio::test]
async fn insecure_mode_accepts_any_certificate() {
    crypto();
    let stranger = Ca::new("stranger");
    let expired = stranger.server_with(&["somewhere.else"], |p| {
        p.not_before = rcgen::date_time_ymd(2020, 1, 1);
        p.not_after = rcgen::date_time_ymd(2021, 1, 1);
    });
    let kea = TlsKea::start(server(expired)).await;
    let mut c = config(&kea.url());
    c.tls.insecure = true;
    client_with(&c).status_get().await.unwrap();
}

fn mtls_config(url: &str, files: &Files, ca: &Ca, client: &Pem) -> KeaConfig {
    let mut c = trusting(url, files, ca);
    c.auth = AuthConfig::ClientCert {
        cert_file: files.write("client.pem", &client.cert),
        key_file: files.write("client.key", &client.key),
    };
    c
}

#[tokio::test]
async fn mutual_tls_presents_the_client_certificate() {
    crypto();
    let ca = Ca::new("private ca");
    let kea = TlsKea::start(ServerTls {
        identity: ca.server(&["127.0.0.1"]),
        client_ca: Some(ca.pem()),
        suites: None,
    })
    .await;
    let files = Files::new();
    let client = ca.client(
        KeyPair::generate().unwrap(),
        &[ExtendedKeyUsagePurpose::ClientAuth],
    );
    client_with(&mtls_config(&kea.url(), &files, &ca, &client))
        .status_get()
        .await
        .unwrap();
    assert_eq!(*kea.client_certs.lock(), vec![true]);

    // Without a certificate the server refuses us.
    let e = client_with(&trusting(&kea.url(), &files, &ca))
        .status_get()
        .await
        .unwrap_err();
    assert!(e.is_server_failure(), "{e:?}");
    assert!(
        matches!(e, KeaError::Tls { .. } | KeaError::Network { .. }),
        "{e:?}"
    );
    assert_eq!(kea.client_certs.lock().len(), 1, "no request got through");

    // An RSA 2048 client certificate works too.
    let rsa = ca.client(
        KeyPair::from_pem(RSA_2048).unwrap(),
        &[ExtendedKeyUsagePurpose::ClientAuth],
    );
    client_with(&mtls_config(&kea.url(), &files, &ca, &rsa))
        .status_get()
        .await
        .unwrap();
}

#[tokio::test]
async fn weak_or_misused_client_certificates_are_refused_at_start() {
    crypto();
    let ca = Ca::new("private ca");
    let files = Files::new();
    let start =
        |client: &Pem| Transport::new(&mtls_config("https://kea:8000", &files, &ca, client)).map(drop);

    let no_eku = ca.client(
        KeyPair::generate().unwrap(),
        &[ExtendedKeyUsagePurpose::ServerAuth],
    );
    let e = start(&no_eku).unwrap_err();
    assert!(
        matches!(&e, KeaError::Config { variable: "KEA_TLS_CERT_FILE", message } if message.contains("clientAuth")),
        "{e:?}"
    );

    let weak = Pem {
        cert: ca.client_cert_for(&Rsa1024Public::new(), &[ExtendedKeyUsagePurpose::ClientAuth]),
        key: RSA_2048.into(),
    };
    let e = start(&weak).unwrap_err();
    assert!(
        matches!(&e, KeaError::Config { variable: "KEA_TLS_CERT_FILE", message } if message.contains("1024 bits")),
        "{e:?}"
    );

    let p384 = ca.client(
        KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap(),
        &[ExtendedKeyUsagePurpose::ClientAuth],
    );
    assert!(start(&p384).is_err());

    let good = ca.client(
        KeyPair::from_pem(RSA_2048).unwrap(),
        &[ExtendedKeyUsagePurpose::ClientAuth],
    );
    start(&good).unwrap();

    // A key that is not the certificate's.
    let other_key = KeyPair::generate().unwrap().serialize_pem();
    let mismatched = Pem {
        cert: ca
            .client(
                KeyPair::generate().unwrap(),
                &[ExtendedKeyUsagePurpose::ClientAuth],
            )
            .cert,
        key: other_key,
    };
    let e = start(&mismatched).unwrap_err();
    assert!(
        matches!(
            &e,
            KeaError::Config {
                variable: "KEA_TLS_KEY_FILE",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(
        !e.to_string().contains("PRIVATE KEY"),
        "no key material in messages"
    );

    let garbage = Pem {
        cert: "not a certificate".into(),
        key: good.key.clone(),
    };
    assert!(matches!(
        start(&garbage),
        Err(KeaError::Config {
            variable: "KEA_TLS_CERT_FILE",
            ..
        })
    ));
}

#[tokio::test]
async fn only_forward_secret_aes_gcm_suites_are_negotiated_on_tls_1_2() {
    crypto();
    let ca = Ca::new("private ca");
    let files = Files::new();
    // A TLS 1.2 server offering an allowed suite: fine.
    let allowed = TlsKea::start(ServerTls {
        identity: ca.server(&["127.0.0.1"]),
        client_ca: None,
        suites: Some(vec![cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]),
    })
    .await;
    client_with(&trusting(&allowed.url(), &files, &ca))
        .status_get()
        .await
        .unwrap();
    // A TLS 1.2 server offering only ChaCha20: not in SPEC §7's list, the handshake fails.
    let refused = TlsKea::start(ServerTls {
        identity: ca.server(&["127.0.0.1"]),
        client_ca: None,
        suites: Some(vec![cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256]),
    })
    .await;
    let e = client_with(&trusting(&refused.url(), &files, &ca))
        .status_get()
        .await
        .unwrap_err();
    assert!(e.is_server_failure(), "{e:?}");
}
