//! The table test every service runs: each guarded route, called without a credential, with
//! a wrong one and (for admin routes) with the cluster secret, must refuse with the
//! contract's JSON error before anything happens.

use std::time::Duration;

use toystore_api::Transport;

use crate::secure::Secrets;

/// Who a guarded route is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    /// The cluster secret or the admin token.
    Member,
    /// The admin token only.
    Admin,
}

/// One guarded route and a body that it would act on if let in.
#[derive(Debug, Clone, Copy)]
pub struct Probe {
    /// `GET`, `POST` or `PUT`.
    pub method: &'static str,
    /// Path and query.
    pub path: &'static str,
    /// The body sent (empty for none).
    pub body: &'static str,
    /// Who may call it.
    pub guard: Guard,
}

/// Calls every probe on `base` (`scheme://host:port`) with the wrong credentials; returns
/// one line per answer that was not the expected refusal (empty when all refused).
pub async fn refusals(
    base: &str,
    secrets: &Secrets,
    probes: &[Probe],
) -> anyhow::Result<Vec<String>> {
    // The operator's TLS setup, but no credential of its own: each attempt sets its own.
    let anonymous = Transport {
        token: None,
        tls: secrets.admin_transport()?.tls,
    };
    let http = anonymous
        .builder()?
        .timeout(Duration::from_secs(10))
        .build()?;
    let cluster = std::fs::read_to_string(&secrets.cluster_token)?;
    let mut failures = Vec::new();
    for probe in probes {
        let mut attempts = vec![
            ("no credential", None, 401, "missing credential"),
            (
                "a wrong token",
                Some("Bearer not-the-secret-0123456789".to_string()),
                403,
                "wrong credential",
            ),
            (
                "another scheme",
                Some(format!("Basic {}", cluster.trim())),
                401,
                "missing credential",
            ),
        ];
        if probe.guard == Guard::Admin {
            attempts.push((
                "the cluster secret",
                Some(format!("Bearer {}", cluster.trim())),
                403,
                "admin credential required",
            ));
        }
        for (what, header, status, message) in attempts {
            let method = reqwest::Method::from_bytes(probe.method.as_bytes())?;
            let mut request = http.request(method, format!("{base}{}", probe.path));
            if !probe.body.is_empty() {
                request = request
                    .header("content-type", "application/json")
                    .body(probe.body);
            }
            if let Some(header) = header {
                request = request.header("authorization", header);
            }
            let response = request.send().await?;
            let got = response.status().as_u16();
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            let expected_body =
                body["error"]["code"] == status && body["error"]["message"] == message;
            if got != status || !expected_body {
                failures.push(format!(
                    "{} {} with {what}: {got} {body} (expected {status} {message})",
                    probe.method, probe.path
                ));
            }
        }
    }
    Ok(failures)
}
