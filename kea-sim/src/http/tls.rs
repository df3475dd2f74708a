//! HTTPS for the control socket (rustls with the ring provider, as everywhere in this
//! workspace): a server certificate, and client certificates verified against the trust
//! anchor, required or optional as Kea's `cert-required` says.

use std::path::Path;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::config::TlsFiles;

/// TLS material in memory (PEM).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsMaterial {
    /// Server certificate chain.
    pub cert_pem: Vec<u8>,
    /// Server private key.
    pub key_pem: Vec<u8>,
    /// CA certificates that sign client certificates.
    pub trust_anchor_pem: Vec<u8>,
    /// Require a client certificate.
    pub cert_required: bool,
}

/// TLS setup errors.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The PEM content is not usable.
    #[error("{what}: {message}")]
    Pem {
        /// Which item.
        what: &'static str,
        /// Why.
        message: String,
    },
    /// rustls refused the setup.
    #[error("TLS setup refused: {0}")]
    Rustls(String),
}

impl TlsError {
    /// Bounded label for logs and metrics.
    pub fn category(&self) -> &'static str {
        match self {
            TlsError::Read { .. } => "io",
            TlsError::Pem { .. } => "pem",
            TlsError::Rustls(_) => "rustls",
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.display().to_string(),
        source,
    })
}

impl TlsMaterial {
    /// Read the files a configuration names (the trust anchor may be a directory of PEM files).
    pub fn from_files(files: &TlsFiles) -> Result<Self, TlsError> {
        let trust_anchor_pem = if files.trust_anchor.is_dir() {
            let mut all = Vec::new();
            let entries = std::fs::read_dir(&files.trust_anchor).map_err(|source| TlsError::Read {
                path: files.trust_anchor.display().to_string(),
                source,
            })?;
            for e in entries.flatten() {
                if e.path().is_file() {
                    all.extend(read(&e.path())?);
                    all.push(b'\n');
                }
            }
            all
        } else {
            read(&files.trust_anchor)?
        };
        Ok(TlsMaterial {
            cert_pem: read(&files.cert_file)?,
            key_pem: read(&files.key_file)?,
            trust_anchor_pem,
            cert_required: files.cert_required,
        })
    }

    /// The acceptor for a listener.
    pub fn acceptor(&self) -> Result<TlsAcceptor, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&self.cert_pem)
            .collect::<Result<_, _>>()
            .map_err(|e| TlsError::Pem {
                what: "cert-file",
                message: e.to_string(),
            })?;
        if certs.is_empty() {
            return Err(TlsError::Pem {
                what: "cert-file",
                message: "no certificate found".into(),
            });
        }
        let key = PrivateKeyDer::from_pem_slice(&self.key_pem).map_err(|e| TlsError::Pem {
            what: "key-file",
            message: e.to_string(),
        })?;
        let mut roots = RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(&self.trust_anchor_pem) {
            let c = c.map_err(|e| TlsError::Pem {
                what: "trust-anchor",
                message: e.to_string(),
            })?;
            roots.add(c).map_err(|e| TlsError::Pem {
                what: "trust-anchor",
                message: e.to_string(),
            })?;
        }
        let builder = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
        let verifier = if self.cert_required {
            builder.build()
        } else {
            builder.allow_unauthenticated().build()
        }
        .map_err(|e| TlsError::Rustls(e.to_string()))?;
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| TlsError::Rustls(e.to_string()))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(certs, key)
            .map_err(|e| TlsError::Rustls(e.to_string()))?;
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
}
