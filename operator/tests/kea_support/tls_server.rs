//! A private CA (rcgen) and a minimal HTTPS server that answers every request like Kea's status-get,
//! for TLS tests of the client (wiremock has no TLS).

use std::net::SocketAddr;
use std::sync::Arc;

use parking_lot::Mutex;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
    IsCa, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::ServerConfig;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// A certificate and its key, PEM.
#[derive(Clone, Debug)]
pub struct Pem {
    pub cert: String,
    pub key: String,
}

/// A private certificate authority.
pub struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    pub fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = dn(name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
        Ca {
            issuer: CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap(),
        }
    }

    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A server certificate for `names` (DNS names or IP addresses).
    pub fn server(&self, names: &[&str]) -> Pem {
        self.server_with(names, |_| {})
    }

    pub fn server_with(&self, names: &[&str], tweak: impl FnOnce(&mut CertificateParams)) -> Pem {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = dn("kea");
        for name in names {
            params.subject_alt_names.push(match name.parse() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) => SanType::DnsName((*name).try_into().unwrap()),
            });
        }
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        tweak(&mut params);
        self.sign(params, KeyPair::generate().unwrap())
    }

    /// A client certificate with the given key and extended key usages.
    pub fn client(&self, key: KeyPair, eku: &[ExtendedKeyUsagePurpose]) -> Pem {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = dn("kea-operator");
        params.extended_key_usages = eku.to_vec();
        self.sign(params, key)
    }

    /// A client certificate (PEM) for a public key only.
    pub fn client_cert_for(
        &self,
        public: &impl rcgen::PublicKeyData,
        eku: &[ExtendedKeyUsagePurpose],
    ) -> String {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = dn("kea-operator");
        params.extended_key_usages = eku.to_vec();
        params.signed_by(public, &self.issuer).unwrap().pem()
    }

    fn sign(&self, params: CertificateParams, key: KeyPair) -> Pem {
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Pem {
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    }
}

fn dn(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn
}

/// Server-side TLS settings.
pub struct ServerTls {
    pub identity: Pem,
    /// Require a client certificate issued by this CA (PEM).
    pub client_ca: Option<String>,
    /// Restrict the server to these cipher suites (by rustls name), to test the client's policy.
    pub suites: Option<Vec<rustls::SupportedCipherSuite>>,
}

/// A running HTTPS "Kea".
pub struct TlsKea {
    pub addr: SocketAddr,
    /// For each served request: whether the client presented a certificate.
    pub client_certs: Arc<Mutex<Vec<bool>>>,
}

impl TlsKea {
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    pub async fn start(tls: ServerTls) -> TlsKea {
        let mut provider = rustls::crypto::ring::default_provider();
        if let Some(suites) = tls.suites {
            provider.cipher_suites = suites;
        }
        let builder = ServerConfig::builder_with_provider(Arc::new(provider))
            .with_protocol_versions(&[&rustls::version::TLS12, &rustls::version::TLS13])
            .unwrap();
        let builder = match &tls.client_ca {
            Some(ca) => {
                let mut roots = rustls::RootCertStore::empty();
                for c in CertificateDer::pem_slice_iter(ca.as_bytes()) {
                    roots.add(c.unwrap()).unwrap();
                }
                let verifier = WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    Arc::new(rustls::crypto::ring::default_provider()),
                )
                .build()
                .unwrap();
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let chain = CertificateDer::pem_slice_iter(tls.identity.cert.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_slice(tls.identity.key.as_bytes()).unwrap();
        let config = builder.with_single_cert(chain, key).unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client_certs = Arc::new(Mutex::new(Vec::new()));
        let seen = client_certs.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let seen = seen.clone();
                tokio::spawn(async move {
                    let Ok(mut stream) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let has_cert = stream
                        .get_ref()
                        .1
                        .peer_certificates()
                        .is_some_and(|c| !c.is_empty());
                    while read_request(&mut stream).await {
                        seen.lock().push(has_cert);
                        let body =
                            r#"[ { "result": 0, "arguments": { "pid": 1, "uptime": 5, "reload": 5 } } ]"#;
                        let response = format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        if stream.write_all(response.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        TlsKea { addr, client_certs }
    }
}

/// Reads one HTTP/1.1 request (headers and a Content-Length body); false at EOF or on error.
async fn read_request<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) -> bool {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte).await {
            Ok(1) => buf.push(byte[0]),
            _ => return false,
        }
    }
    let head = String::from_utf8_lossy(&buf).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.is_ok()
}
