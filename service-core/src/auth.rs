//! Who may call what: each route is public, for cluster members, or for the admin, and a
//! layer checks the `Authorization: Bearer` credential before the handler (and so before
//! any body is read or any state changes).
//!
//! A service given no credential at all runs open, as the contract's plain setup expects,
//! and says so in its log; once it holds any credential, every non-public route needs one.

use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use sha2::{Digest, Sha256};
use toystore_api::{ErrorKind, Secret};

use crate::envelope::ApiError;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: the public API, `/health`, `/metrics`.
    Public,
    /// Cluster members (the cluster secret) and the admin.
    Member,
    /// The admin token only: membership, snapshots, prices.
    Admin,
}

/// The credentials a service accepts.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    /// Proves membership of the cluster: peers, the gateway, the nodes calling the catalog.
    pub cluster: Option<Secret>,
    /// Allows admin changes; also accepted wherever a member is.
    pub admin: Option<Secret>,
}

impl Credentials {
    /// No credential configured: every route is open.
    pub fn is_open(&self) -> bool {
        self.cluster.is_none() && self.admin.is_none()
    }

    /// Whether the `Authorization` header value may call a route of `access`.
    pub fn check(&self, access: Access, header: Option<&HeaderValue>) -> Result<(), ErrorKind> {
        if access == Access::Public || self.is_open() {
            return Ok(());
        }
        let presented = header
            .and_then(|value| value.to_str().ok())
            .and_then(bearer)
            .ok_or(ErrorKind::MissingCredential)?;
        let is_admin = matches(self.admin.as_ref(), presented);
        // Both comparisons always run, so timing does not tell which secret was close.
        let is_member = matches(self.cluster.as_ref(), presented);
        match access {
            Access::Public => Ok(()),
            Access::Member if is_admin || is_member => Ok(()),
            Access::Admin if is_admin => Ok(()),
            Access::Admin if is_member => Err(ErrorKind::AdminRequired),
            _ => Err(ErrorKind::WrongCredential),
        }
    }
}

/// The token of `Bearer <token>` (the scheme is case-insensitive).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Compares in time independent of where the two differ: both sides are hashed to a fixed
/// length first, then every byte is compared.
fn matches(expected: Option<&Secret>, presented: &str) -> bool {
    let Some(expected) = expected else {
        return false;
    };
    let a = Sha256::digest(expected.expose().as_bytes());
    let b = Sha256::digest(presented.as_bytes());
    let difference = a
        .iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(difference) == 0
}

/// Puts every route of `routes` behind `access`. Routes only: an unknown path still
/// answers 404 and a wrong method 405 without a credential.
pub fn guard<S: Clone + Send + Sync + 'static>(
    routes: Router<S>,
    credentials: &Credentials,
    access: Access,
) -> Router<S> {
    if access == Access::Public {
        return routes;
    }
    routes.route_layer(middleware::from_fn_with_state(
        (credentials.clone(), access),
        require,
    ))
}

async fn require(
    State((credentials, access)): State<(Credentials, Access)>,
    request: Request,
    next: Next,
) -> Response {
    match credentials.check(access, request.headers().get(AUTHORIZATION)) {
        Ok(()) => next.run(request).await,
        Err(kind) => {
            tracing::debug!(path = %request.uri().path(), "refused: {kind}");
            let mut response = ApiError::kind(kind).into_response();
            if kind == ErrorKind::MissingCredential {
                response.headers_mut().insert(
                    WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"toystore\""),
                );
            }
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> Secret {
        Secret::new(s).unwrap()
    }

    fn header(s: &str) -> HeaderValue {
        HeaderValue::from_str(s).unwrap()
    }

    fn secured() -> Credentials {
        Credentials {
            cluster: Some(secret("cluster-secret-0123456789")),
            admin: Some(secret("admin-token-0123456789")),
        }
    }

    #[test]
    fn an_open_service_lets_everyone_in() {
        let open = Credentials::default();
        assert!(open.check(Access::Admin, None).is_ok());
        assert!(open
            .check(Access::Member, Some(&header("Bearer x")))
            .is_ok());
    }

    #[test]
    fn members_and_admins_are_told_apart() {
        let c = secured();
        let member = header("Bearer cluster-secret-0123456789");
        let admin = header("bearer admin-token-0123456789");
        assert_eq!(c.check(Access::Public, None), Ok(()));
        assert_eq!(c.check(Access::Member, Some(&member)), Ok(()));
        assert_eq!(c.check(Access::Member, Some(&admin)), Ok(()));
        assert_eq!(c.check(Access::Admin, Some(&admin)), Ok(()));
        assert_eq!(
            c.check(Access::Admin, Some(&member)),
            Err(ErrorKind::AdminRequired)
        );
    }

    #[test]
    fn missing_malformed_and_wrong_credentials_are_refused() {
        let c = secured();
        for access in [Access::Member, Access::Admin] {
            assert_eq!(c.check(access, None), Err(ErrorKind::MissingCredential));
            for bad in [
                "Basic abc",
                "Bearer",
                "Bearer ",
                "cluster-secret-0123456789",
            ] {
                assert_eq!(
                    c.check(access, Some(&header(bad))),
                    Err(ErrorKind::MissingCredential),
                    "{bad}"
                );
            }
            for wrong in [
                "Bearer cluster-secret-012345678",
                "Bearer cluster-secret-01234567890",
                "Bearer admin-token-0123456780",
            ] {
                assert_eq!(
                    c.check(access, Some(&header(wrong))),
                    Err(ErrorKind::WrongCredential),
                    "{wrong}"
                );
            }
        }
    }

    #[test]
    fn without_an_admin_token_admin_routes_stay_shut() {
        let c = Credentials {
            cluster: Some(secret("cluster-secret-0123456789")),
            admin: None,
        };
        let member = header("Bearer cluster-secret-0123456789");
        assert_eq!(
            c.check(Access::Admin, Some(&member)),
            Err(ErrorKind::AdminRequired)
        );
        assert_eq!(c.check(Access::Member, Some(&member)), Ok(()));
    }
}
