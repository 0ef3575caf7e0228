//! How one request of the load generator ended, whichever way it was sent.

/// How one request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Outcome {
    /// 2xx, whole body read.
    Ok,
    /// 503: the server refused it for load.
    Shed,
    /// Anything else, and what it was.
    Failed(String),
}

impl Outcome {
    /// A request answered with a status other than 2xx, and the body that came with it.
    pub(super) fn refused(path: &str, status: reqwest::StatusCode, body: &[u8]) -> Outcome {
        if status == reqwest::StatusCode::SERVICE_UNAVAILABLE {
            Outcome::Shed
        } else {
            let text = String::from_utf8_lossy(&body[..body.len().min(300)]);
            Outcome::Failed(format!("{path}: {status} {text}"))
        }
    }
}
