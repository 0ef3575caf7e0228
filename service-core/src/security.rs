//! The security flags every service takes (credentials and TLS), checked and loaded once at
//! start into what the server ([`crate::auth`], [`crate::tls`]) and the clients
//! ([`toystore_api::Transport`]) use.
//!
//! Secrets come from files or the environment, never from a flag's value, so `ps` cannot
//! show them. TLS is all or nothing: half a TLS setup is refused rather than silently
//! served in the clear.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use toystore_api::transport::ClientTls;
use toystore_api::{Secret, Transport};

use crate::auth::Credentials;

/// Environment variable holding the cluster secret itself (instead of a file).
pub const CLUSTER_TOKEN_ENV: &str = "TOYSTORE_CLUSTER_TOKEN";
/// Environment variable holding the admin token itself (instead of a file).
pub const ADMIN_TOKEN_ENV: &str = "TOYSTORE_ADMIN_TOKEN";

/// Credentials and TLS, shared by every service's command line.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SecurityFlags {
    /// File holding the cluster secret: required on internal routes when set, and sent on
    /// this service's own calls to the others. TOYSTORE_CLUSTER_TOKEN may hold the secret
    /// itself instead. Without any credential, every route is open.
    #[arg(long, env = "TOYSTORE_CLUSTER_TOKEN_FILE")]
    pub cluster_token_file: Option<PathBuf>,

    /// File holding the admin token, required on membership, snapshot and price changes.
    /// TOYSTORE_ADMIN_TOKEN may hold the token itself instead.
    #[arg(long, env = "TOYSTORE_ADMIN_TOKEN_FILE")]
    pub admin_token_file: Option<PathBuf>,

    /// PEM certificate chain this service presents (TLS needs cert, key and CA together).
    #[arg(long, env = "TOYSTORE_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key of --tls-cert.
    #[arg(long, env = "TOYSTORE_TLS_KEY")]
    pub tls_key: Option<PathBuf>,

    /// PEM certificate of the cluster's CA: the only root trusted for peers.
    #[arg(long, env = "TOYSTORE_TLS_CA")]
    pub tls_ca: Option<PathBuf>,

    /// Require every client to show a certificate signed by --tls-ca (mutual TLS).
    #[arg(long, env = "TOYSTORE_TLS_CLIENT_AUTH")]
    pub tls_client_auth: bool,
}

/// What the security flags give a running service.
#[derive(Debug, Clone, Default)]
pub struct Security {
    /// What its guarded routes accept.
    pub credentials: Credentials,
    /// The TLS setup of its listener, when TLS is on.
    pub server_tls: Option<Arc<rustls::ServerConfig>>,
    /// How its own clients reach the other services: the cluster secret and the CA.
    pub transport: Transport,
}

impl SecurityFlags {
    /// Reads and checks every file the flags name (and the token variables).
    pub fn load(&self) -> anyhow::Result<Security> {
        let cluster = secret(self.cluster_token_file.as_ref(), CLUSTER_TOKEN_ENV)?;
        let admin = secret(self.admin_token_file.as_ref(), ADMIN_TOKEN_ENV)?;
        if let (Some(c), Some(a)) = (&cluster, &admin) {
            if c == a {
                bail!("the cluster secret and the admin token must differ");
            }
        }
        let (server_tls, client_tls) = match (&self.tls_cert, &self.tls_key, &self.tls_ca) {
            (None, None, None) => {
                if self.tls_client_auth {
                    bail!("--tls-client-auth needs --tls-cert, --tls-key and --tls-ca");
                }
                (None, None)
            }
            (Some(cert), Some(key), Some(ca)) => {
                let material = crate::tls::Material::read(cert, key, ca)?;
                let server = material.server_config(self.tls_client_auth)?;
                let client = ClientTls {
                    ca_pem: material.ca_pem.clone(),
                    identity_pem: Some(material.identity_pem()),
                };
                (Some(Arc::new(server)), Some(client))
            }
            _ => bail!("TLS needs --tls-cert, --tls-key and --tls-ca together (or none of them)"),
        };
        let transport = Transport {
            token: cluster.clone(),
            tls: client_tls,
        };
        // Fail at start, not on the first call, if the client side cannot be built.
        transport
            .builder()
            .context("client TLS")?
            .build()
            .context("client TLS")?;
        Ok(Security {
            credentials: Credentials { cluster, admin },
            server_tls,
            transport,
        })
    }
}

fn secret(file: Option<&PathBuf>, env: &str) -> anyhow::Result<Option<Secret>> {
    if let Some(path) = file {
        return Ok(Some(Secret::from_file(path)?));
    }
    match std::env::var(env) {
        Ok(value) if !value.is_empty() => Ok(Some(Secret::new(&value).context(env.to_string())?)),
        _ => Ok(None),
    }
}

impl Security {
    /// Logs how the service is protected (never the secrets themselves).
    pub fn log(&self, listen: &str) {
        if self.credentials.is_open() {
            tracing::warn!(
                "no credential configured: internal and admin routes are open to anyone who \
                 reaches {listen}"
            );
        } else {
            tracing::info!(
                cluster_secret = self.credentials.cluster.is_some(),
                admin_token = self.credentials.admin.is_some(),
                "internal and admin routes need a credential"
            );
        }
        tracing::info!(tls = self.server_tls.is_some(), "transport");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        security: SecurityFlags,
    }

    fn flags(args: &[&str]) -> SecurityFlags {
        let mut all = vec!["test"];
        all.extend_from_slice(args);
        Cli::try_parse_from(all).unwrap().security
    }

    #[test]
    fn half_a_tls_setup_is_refused() {
        let err = flags(&["--tls-cert", "c.pem"]).load().unwrap_err();
        assert!(err.to_string().contains("together"), "{err}");
        let err = flags(&["--tls-client-auth"]).load().unwrap_err();
        assert!(err.to_string().contains("--tls-client-auth"), "{err}");
    }

    #[test]
    fn token_files_are_read_and_must_differ() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::fs::write(&a, "first-secret-0123456789\n").unwrap();
        std::fs::write(&b, "first-secret-0123456789").unwrap();
        let path = |p: &PathBuf| p.to_str().unwrap().to_string();
        let err = flags(&[
            "--cluster-token-file",
            &path(&a),
            "--admin-token-file",
            &path(&b),
        ])
        .load()
        .unwrap_err();
        assert!(err.to_string().contains("differ"), "{err}");
        std::fs::write(&b, "second-secret-0123456789").unwrap();
        let security = flags(&[
            "--cluster-token-file",
            &path(&a),
            "--admin-token-file",
            &path(&b),
        ])
        .load()
        .unwrap();
        assert!(!security.credentials.is_open());
        assert_eq!(
            security.transport.token.unwrap().expose(),
            "first-secret-0123456789"
        );
        assert!(flags(&["--cluster-token-file", "/nonexistent/token"])
            .load()
            .is_err());
    }
}
