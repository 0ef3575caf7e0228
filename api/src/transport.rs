//! How a client reaches the cluster: the credential it presents and whether it speaks TLS.
//!
//! A [`Transport`] is built once per process from its flags; every pooled client made from
//! it ([`Http`]) carries the credential as a default `Authorization: Bearer` header and
//! trusts only the cluster's CA, so typed clients need no per-call security code.

use std::path::Path;
use std::sync::Arc;

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};

/// How long a pooled connection may sit idle before the client drops it: under the
/// servers' 30 s header timeout, so a client never sends on a connection the server is
/// closing for idleness.
pub const POOL_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// The shortest secret accepted: shorter ones can be guessed.
pub const MIN_SECRET_LEN: usize = 16;

/// A credential: a cluster secret or an admin token. Its `Debug` never shows it, so it
/// cannot end up in a log line by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    /// Checks and wraps a secret: at least [`MIN_SECRET_LEN`] visible ASCII characters, so
    /// it fits in a header unchanged.
    pub fn new(value: &str) -> Result<Self, TransportError> {
        let value = value.trim();
        if value.len() < MIN_SECRET_LEN {
            return Err(TransportError::Secret(format!(
                "a secret needs at least {MIN_SECRET_LEN} characters"
            )));
        }
        if !value.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(TransportError::Secret(
                "a secret may hold only visible ASCII characters".into(),
            ));
        }
        Ok(Secret(value.into()))
    }

    /// Reads a secret from a file (surrounding whitespace, such as a final newline, is
    /// ignored).
    pub fn from_file(path: &Path) -> Result<Self, TransportError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| TransportError::Secret(format!("cannot read {}: {e}", path.display())))?;
        Self::new(&text).map_err(|e| TransportError::Secret(format!("{}: {e}", path.display())))
    }

    /// The secret itself, for the one place that must send or compare it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// TLS as a client: the CA that signed the cluster's certificates, and optionally this
/// process's own certificate and key, shown to servers that ask for one (mTLS).
#[derive(Clone, Debug)]
pub struct ClientTls {
    /// PEM of the CA certificate(s) to trust; no other root is trusted.
    pub ca_pem: Vec<u8>,
    /// PEM of a certificate chain followed by its private key.
    pub identity_pem: Option<Vec<u8>>,
}

/// Everything a client needs to reach the cluster's services.
#[derive(Clone, Debug, Default)]
pub struct Transport {
    /// Sent as `Authorization: Bearer <secret>` on every request, when set.
    pub token: Option<Secret>,
    /// Speak `https` with these roots, when set; plain `http` otherwise.
    pub tls: Option<ClientTls>,
}

/// Why a transport could not be built.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TransportError {
    /// A secret is missing, unreadable or too weak.
    #[error("bad secret: {0}")]
    Secret(String),
    /// A certificate or key could not be used.
    #[error("bad TLS material: {0}")]
    Tls(String),
}

impl Transport {
    /// A plain-HTTP transport that presents `token`.
    pub fn with_token(token: Option<Secret>) -> Self {
        Transport { token, tls: None }
    }

    /// `https` when TLS is on, `http` otherwise.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() {
            "https"
        } else {
            "http"
        }
    }

    /// A client builder with the credential, TLS roots and [`POOL_IDLE_TIMEOUT`] applied;
    /// callers add their own timeouts and pool settings.
    pub fn builder(&self) -> Result<reqwest::ClientBuilder, TransportError> {
        let mut builder = reqwest::Client::builder().pool_idle_timeout(POOL_IDLE_TIMEOUT);
        if let Some(token) = &self.token {
            let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
                .map_err(|e| TransportError::Secret(e.to_string()))?;
            value.set_sensitive(true);
            let mut headers = HeaderMap::new();
            headers.insert(AUTHORIZATION, value);
            builder = builder.default_headers(headers);
        }
        if let Some(tls) = &self.tls {
            let roots = reqwest::Certificate::from_pem_bundle(&tls.ca_pem)
                .map_err(|e| TransportError::Tls(format!("CA: {e}")))?;
            if roots.is_empty() {
                return Err(TransportError::Tls("CA file holds no certificate".into()));
            }
            builder = builder.tls_built_in_root_certs(false).use_rustls_tls();
            for root in roots {
                builder = builder.add_root_certificate(root);
            }
            if let Some(identity) = &tls.identity_pem {
                let identity = reqwest::Identity::from_pem(identity)
                    .map_err(|e| TransportError::Tls(format!("client identity: {e}")))?;
                builder = builder.identity(identity);
            }
        }
        Ok(builder)
    }

    /// A pooled client: `configure` adds timeouts and pool settings to the builder.
    pub fn http(
        &self,
        configure: impl FnOnce(reqwest::ClientBuilder) -> reqwest::ClientBuilder,
    ) -> Result<Http, TransportError> {
        let client = configure(self.builder()?)
            .build()
            .map_err(|e| TransportError::Tls(e.to_string()))?;
        Ok(Http {
            client,
            transport: Arc::new(self.clone()),
        })
    }
}

/// A pooled HTTP client and the transport it was made from (so a caller can make another
/// client with other timeouts, e.g. for a long-lived event stream).
#[derive(Clone, Debug)]
pub struct Http {
    client: reqwest::Client,
    transport: Arc<Transport>,
}

impl Http {
    /// The pooled client.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// The transport this client follows.
    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// `https` or `http`.
    pub fn scheme(&self) -> &'static str {
        self.transport.scheme()
    }
}

/// A bare reqwest client: plain HTTP, no credential.
impl From<reqwest::Client> for Http {
    fn from(client: reqwest::Client) -> Self {
        Http {
            client,
            transport: Arc::new(Transport::default()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_checked_and_never_printed() {
        assert!(Secret::new("short").is_err());
        assert!(Secret::new("has a space in the middle").is_err());
        let secret = Secret::new("  0123456789abcdef\n").unwrap();
        assert_eq!(secret.expose(), "0123456789abcdef");
        assert!(!format!("{secret:?}").contains("0123"));
    }

    #[test]
    fn a_secret_file_is_read_without_its_newline() {
        let dir = std::env::temp_dir().join(format!("secret-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("token");
        std::fs::write(&path, "abcdefghijklmnopqrstuvwxyz\n").unwrap();
        assert_eq!(
            Secret::from_file(&path).unwrap().expose(),
            "abcdefghijklmnopqrstuvwxyz"
        );
        assert!(Secret::from_file(&dir.join("missing")).is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_scheme_follows_tls() {
        assert_eq!(Transport::default().scheme(), "http");
        let tls = Transport {
            token: None,
            tls: Some(ClientTls {
                ca_pem: Vec::new(),
                identity_pem: None,
            }),
        };
        assert_eq!(tls.scheme(), "https");
        assert!(tls.builder().is_err(), "an empty CA is refused");
    }
}
