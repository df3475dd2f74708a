//! The rustls client configuration for Kea (SPEC §7).
//!
//! One crypto provider for the whole binary: *ring* (kube's default). reqwest is built with
//! `rustls-no-provider` and handed this preconfigured `ClientConfig`, so it never looks for another
//! provider or for the platform's certificate store — which does not exist in a FROM-scratch image
//! (reqwest's platform verifier refuses to build a client there, even for plain HTTP). The config is
//! therefore built for plain-HTTP setups too.
//!
//! Policy: TLS 1.2 minimum; TLS 1.2 only with ECDHE + AES-GCM (RSA and ECDSA), TLS 1.3 suites as
//! rustls offers them. The seed's `TLS_RSA_WITH_AES_256_GCM_SHA384` has no forward secrecy and is not
//! offered (rustls does not implement it either). Trust: `KEA_TLS_CA_FILE`, else the Mozilla roots
//! (webpki-roots). Client certificates must be RSA ≥ 2048 bits or ECDSA P-256 and carry the clientAuth
//! extended key usage; anything else is refused at start, naming the variable.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms, ring};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;

use crate::config::{AuthConfig, KeaConfig, io_reason};

use super::KeaError;

/// OID of the NIST P-256 curve (prime256v1, 1.2.840.10045.3.1.7).
const P256_OID: &str = "1.2.840.10045.3.1.7";
const MIN_RSA_BITS: usize = 2048;

/// The *ring* provider restricted to SPEC §7's cipher suites.
pub fn provider() -> Arc<CryptoProvider> {
    use ring::cipher_suite as cs;
    let mut provider = ring::default_provider();
    provider.cipher_suites = vec![
        cs::TLS13_AES_256_GCM_SHA384,
        cs::TLS13_AES_128_GCM_SHA256,
        cs::TLS13_CHACHA20_POLY1305_SHA256,
        cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    ];
    Arc::new(provider)
}

fn config_error(variable: &'static str, message: impl Into<String>) -> KeaError {
    KeaError::Config {
        variable,
        message: message.into(),
    }
}

/// Builds the client configuration for every Kea server.
pub fn client_config(kea: &KeaConfig) -> Result<ClientConfig, KeaError> {
    let provider = provider();
    let verifier: Arc<dyn ServerCertVerifier> = if kea.tls.insecure {
        Arc::new(AcceptAnyCertificate {
            algorithms: provider.signature_verification_algorithms,
        })
    } else {
        let roots = Arc::new(root_store(kea.tls.ca_file.as_deref())?);
        let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
            .build()
            .map_err(|e| config_error("KEA_TLS_CA_FILE", format!("cannot build a verifier: {e}")))?;
        match &kea.tls.server_name {
            Some(name) => {
                let name = ServerName::try_from(name.clone()).map_err(|_| {
                    config_error(
                        "KEA_TLS_SERVER_NAME",
                        "is not a DNS name or IP address; e.g. kea.example.internal",
                    )
                })?;
                Arc::new(FixedNameVerifier { inner: webpki, name })
            }
            None => webpki,
        }
    };
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| config_error("KEA_TLS_ENABLED", format!("TLS setup failed: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match &kea.auth {
        AuthConfig::ClientCert { cert_file, key_file } => {
            let (chain, key) = load_client_identity(cert_file, key_file)?;
            builder.with_client_auth_cert(chain, key).map_err(|e| {
                config_error(
                    "KEA_TLS_KEY_FILE",
                    format!("does not belong to KEA_TLS_CERT_FILE or is unusable: {e}"),
                )
            })?
        }
        _ => builder.with_no_client_auth(),
    };
    // Kea's control socket speaks HTTP/1.1 only.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

fn root_store(ca_file: Option<&Path>) -> Result<RootCertStore, KeaError> {
    let Some(path) = ca_file else {
        return Ok(RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        });
    };
    let certs = read_certificates("KEA_TLS_CA_FILE", path)?;
    let mut store = RootCertStore::empty();
    let (added, _ignored) = store.add_parsable_certificates(certs);
    if added == 0 {
        return Err(config_error(
            "KEA_TLS_CA_FILE",
            format!(
                "{} holds no usable CA certificate; expected PEM (BEGIN CERTIFICATE)",
                path.display()
            ),
        ));
    }
    Ok(store)
}

fn read_certificates(variable: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, KeaError> {
    let bytes = std::fs::read(path).map_err(|e| {
        config_error(
            variable,
            format!("cannot read {}: {}", path.display(), io_reason(&e)),
        )
    })?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| config_error(variable, format!("{} is not valid PEM", path.display())))?;
    if certs.is_empty() {
        return Err(config_error(
            variable,
            format!(
                "{} holds no certificate; expected PEM (BEGIN CERTIFICATE)",
                path.display()
            ),
        ));
    }
    Ok(certs)
}

/// Loads and checks the client certificate (SPEC §7): key type and size, and the clientAuth EKU.
pub fn load_client_identity(
    cert_file: &Path,
    key_file: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), KeaError> {
    let chain = read_certificates("KEA_TLS_CERT_FILE", cert_file)?;
    check_client_certificate(&chain[0])?;
    let key_bytes = std::fs::read(key_file).map_err(|e| {
        config_error(
            "KEA_TLS_KEY_FILE",
            format!("cannot read {}: {}", key_file.display(), io_reason(&e)),
        )
    })?;
    let key = PrivateKeyDer::from_pem_slice(&key_bytes).map_err(|_| {
        config_error(
            "KEA_TLS_KEY_FILE",
            format!(
                "{} holds no private key; expected PEM (PKCS#8, PKCS#1 or SEC1)",
                key_file.display()
            ),
        )
    })?;
    Ok((chain, key))
}

/// Refuses a client certificate that is weak or not meant for client authentication.
pub fn check_client_certificate(der: &CertificateDer<'_>) -> Result<(), KeaError> {
    let (_, cert) = X509Certificate::from_der(der.as_ref()).map_err(|_| {
        config_error(
            "KEA_TLS_CERT_FILE",
            "the certificate cannot be parsed (DER/X.509)",
        )
    })?;
    let eku = cert.extended_key_usage().map_err(|_| {
        config_error(
            "KEA_TLS_CERT_FILE",
            "the extended key usage extension is malformed",
        )
    })?;
    if !eku.is_some_and(|e| e.value.client_auth) {
        return Err(config_error(
            "KEA_TLS_CERT_FILE",
            "lacks the clientAuth extended key usage; issue the certificate with extendedKeyUsage=clientAuth",
        ));
    }
    let spki = cert.public_key();
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => {
            let bits = rsa_bits(rsa.modulus);
            if bits < MIN_RSA_BITS {
                return Err(config_error(
                    "KEA_TLS_CERT_FILE",
                    format!("has an RSA key of {bits} bits; use RSA with at least 2048 bits or ECDSA P-256"),
                ));
            }
        }
        Ok(PublicKey::EC(_)) => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|oid| oid.to_id_string());
            if curve.as_deref() != Some(P256_OID) {
                return Err(config_error(
                    "KEA_TLS_CERT_FILE",
                    "has an ECDSA key on a curve other than P-256; use ECDSA P-256 or RSA with at least 2048 bits",
                ));
            }
        }
        _ => {
            return Err(config_error(
                "KEA_TLS_CERT_FILE",
                "has an unsupported key type; use RSA with at least 2048 bits or ECDSA P-256",
            ));
        }
    }
    Ok(())
}

/// Bit length of a big-endian unsigned modulus (DER integers may carry a leading zero byte).
fn rsa_bits(modulus: &[u8]) -> usize {
    let significant: &[u8] = match modulus.iter().position(|b| *b != 0) {
        Some(i) => &modulus[i..],
        None => return 0,
    };
    significant.len() * 8 - significant[0].leading_zeros() as usize
}

/// Verifies the certificate against `KEA_TLS_SERVER_NAME` instead of the URL's host.
///
/// Why a custom verifier: reqwest takes the name to verify from the URL it connects to. When Kea is
/// reached by an address or an internal alias that its certificate does not carry (a Service IP, a
/// port-forward, `127.0.0.1`), the connection must still go to the URL's host while the certificate is
/// checked — chain, validity, key usage and name — against the configured name. Everything except the
/// name is delegated to rustls' WebPKI verifier. (The SNI sent is still the URL's host name, or none for
/// an IP address.)
struct FixedNameVerifier {
    inner: Arc<WebPkiServerVerifier>,
    name: ServerName<'static>,
}

impl fmt::Debug for FixedNameVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FixedNameVerifier")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl ServerCertVerifier for FixedNameVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner
            .verify_server_cert(end_entity, intermediates, &self.name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// `KEA_TLS_INSECURE`: accepts any certificate. The handshake signatures are still checked, so the
/// peer must hold the key of the certificate it shows — it just may be anyone's.
#[derive(Debug)]
struct AcceptAnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, ExtendedKeyUsagePurpose, KeyPair};

    fn cert_der(key: &KeyPair, eku: &[ExtendedKeyUsagePurpose]) -> CertificateDer<'static> {
        let mut params = CertificateParams::new(vec!["client".to_string()]).unwrap();
        params.extended_key_usages = eku.to_vec();
        params.self_signed(key).unwrap().der().clone()
    }

    #[test]
    fn accepts_p256_and_rsa_2048_with_client_auth() {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        check_client_certificate(&cert_der(&key, &[ExtendedKeyUsagePurpose::ClientAuth])).unwrap();
    }

    #[test]
    fn refuses_missing_eku_and_wrong_curve() {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let e =
            check_client_certificate(&cert_der(&key, &[ExtendedKeyUsagePurpose::ServerAuth])).unwrap_err();
        assert!(e.to_string().contains("clientAuth"), "{e}");
        let e = check_client_certificate(&cert_der(&key, &[])).unwrap_err();
        assert!(e.to_string().starts_with("KEA_TLS_CERT_FILE"), "{e}");

        let p384 = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
        let e =
            check_client_certificate(&cert_der(&p384, &[ExtendedKeyUsagePurpose::ClientAuth])).unwrap_err();
        assert!(e.to_string().contains("P-256"), "{e}");
        let ed = KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let e = check_client_certificate(&cert_der(&ed, &[ExtendedKeyUsagePurpose::ClientAuth])).unwrap_err();
        assert!(e.to_string().contains("unsupported key type"), "{e}");
    }

    #[test]
    fn rsa_bit_length_ignores_the_sign_byte() {
        let mut modulus = vec![0u8];
        modulus.extend(std::iter::repeat_n(0xffu8, 256));
        assert_eq!(rsa_bits(&modulus), 2048);
        assert_eq!(rsa_bits(&[0x01, 0x00]), 9);
        assert_eq!(rsa_bits(&[0, 0]), 0);
        let mut small = vec![0x7fu8];
        small.extend(std::iter::repeat_n(0u8, 127));
        assert_eq!(rsa_bits(&small), 1023);
    }

    #[test]
    fn only_the_allowed_suites_are_offered() {
        let names: Vec<String> = provider()
            .cipher_suites
            .iter()
            .map(|s| format!("{:?}", s.suite()))
            .collect();
        assert_eq!(names.len(), 7);
        assert!(
            names
                .iter()
                .all(|n| n.starts_with("TLS13_") || (n.contains("ECDHE") && n.contains("GCM"))),
            "{names:?}"
        );
        assert!(
            !names
                .iter()
                .any(|n| n.contains("CHACHA") && !n.starts_with("TLS13_"))
        );
    }

    #[test]
    fn builds_for_plain_http_with_the_mozilla_roots() {
        let config = KeaConfig::new("http://kea:8000".parse().unwrap());
        let tls = client_config(&config).unwrap();
        assert_eq!(tls.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }

    #[test]
    fn a_ca_file_without_certificates_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not pem").unwrap();
        let mut config = KeaConfig::new("https://kea:8000".parse().unwrap());
        config.tls.ca_file = Some(path);
        let e = client_config(&config).unwrap_err();
        assert!(e.to_string().starts_with("KEA_TLS_CA_FILE"), "{e}");
    }
}
