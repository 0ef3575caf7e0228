//! TLS on a service's listener (rustls): the certificate it presents, and, with mutual TLS,
//! the check that every client's certificate was signed by the cluster's CA.

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};

/// The PEM files of one service: its certificate chain, its key and the cluster's CA.
#[derive(Clone)]
pub struct Material {
    /// Certificate chain, leaf first.
    pub cert_pem: Vec<u8>,
    /// Private key of the leaf.
    pub key_pem: Vec<u8>,
    /// The CA that signs every certificate of the cluster.
    pub ca_pem: Vec<u8>,
}

impl std::fmt::Debug for Material {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Material(<pem>)")
    }
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

impl Material {
    /// Reads the three files.
    pub fn read(cert: &Path, key: &Path, ca: &Path) -> anyhow::Result<Self> {
        Ok(Material {
            cert_pem: read(cert)?,
            key_pem: read(key)?,
            ca_pem: read(ca)?,
        })
    }

    /// Certificate chain then key: what a client presents for mutual TLS.
    pub fn identity_pem(&self) -> Vec<u8> {
        let mut pem = self.cert_pem.clone();
        if !pem.ends_with(b"\n") {
            pem.push(b'\n');
        }
        pem.extend_from_slice(&self.key_pem);
        pem
    }

    /// The listener's TLS setup; with `client_auth`, clients without a certificate signed
    /// by the CA are refused during the handshake.
    pub fn server_config(&self, client_auth: bool) -> anyhow::Result<ServerConfig> {
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&self.cert_pem)
            .collect::<Result<_, _>>()
            .context("--tls-cert")?;
        if chain.is_empty() {
            bail!("--tls-cert holds no certificate");
        }
        let key = PrivateKeyDer::from_pem_slice(&self.key_pem).context("--tls-key")?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .context("TLS versions")?;
        let builder = if client_auth {
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(self.roots()?), provider)
                    .build()
                    .context("client verifier")?;
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let mut config = builder
            .with_single_cert(chain, key)
            .context("--tls-cert and --tls-key do not go together")?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(config)
    }

    fn roots(&self) -> anyhow::Result<RootCertStore> {
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(&self.ca_pem) {
            roots.add(cert.context("--tls-ca")?).context("--tls-ca")?;
        }
        if roots.is_empty() {
            bail!("--tls-ca holds no certificate");
        }
        Ok(roots)
    }
}
