//! `--security open|tokens|tls`: how the cluster that `test` or `bench` starts is secured,
//! so the faults and the figures can be had over the same links production would use.

use testkit::SecurityMode;

/// How the started cluster is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub(crate) enum Security {
    /// Plain HTTP, every route open (local development).
    #[default]
    Open,
    /// A cluster secret and an admin token on internal and admin routes.
    Tokens,
    /// Tokens, TLS on every link, mutual certificates between the services.
    Tls,
}

impl Security {
    /// The name given on the command line.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Security::Open => "open",
            Security::Tokens => "tokens",
            Security::Tls => "tls",
        }
    }
}

impl From<Security> for SecurityMode {
    fn from(security: Security) -> Self {
        match security {
            Security::Open => SecurityMode::Open,
            Security::Tokens => SecurityMode::Tokens,
            Security::Tls => SecurityMode::Tls,
        }
    }
}
