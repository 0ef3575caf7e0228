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
