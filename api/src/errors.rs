//! The contract's named errors: the answers a caller decides on. A server builds its answer
//! from an [`ErrorKind`] and a client reads one back with [`ErrorKind::of`], so the status
//! and message of each live here once and no caller compares messages itself.

/// An error of the contract with a fixed status and message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// 404: no product of that name.
    ProductNotFound,
    /// 404: no order of that number (yet).
    OrderNotFound,
    /// 409: not enough stock for the whole quantity; nothing was taken.
    OutOfStock,
    /// 409: the reconciler gave the request id up before its order committed.
    RequestExpired,
    /// 422: a raft node already holds the request id for an order with another body.
    RequestIdReused,
    /// 421: this node does not lead; the answer names the leader when it knows it.
    NotLeader,
    /// 503: no order leader answered in time.
    NoLeader,
    /// 503: the catalog did not answer; nothing was committed.
    CatalogUnavailable,
    /// 401: an internal or admin route was called without a credential.
    MissingCredential,
    /// 403: the credential given is not one this service knows.
    WrongCredential,
    /// 403: a cluster credential on a route that needs the admin token.
    AdminRequired,
    /// 503: the gateway has more buys queued than it can serve within its deadline.
    Overloaded,
}

impl ErrorKind {
    const ALL: [ErrorKind; 12] = [
        ErrorKind::ProductNotFound,
        ErrorKind::OrderNotFound,
        ErrorKind::OutOfStock,
        ErrorKind::RequestExpired,
        ErrorKind::RequestIdReused,
        ErrorKind::NotLeader,
        ErrorKind::NoLeader,
        ErrorKind::CatalogUnavailable,
        ErrorKind::MissingCredential,
        ErrorKind::WrongCredential,
        ErrorKind::AdminRequired,
        ErrorKind::Overloaded,
    ];

    /// The HTTP status of this error.
    pub const fn status(self) -> u16 {
        match self {
            ErrorKind::ProductNotFound | ErrorKind::OrderNotFound => 404,
            ErrorKind::OutOfStock | ErrorKind::RequestExpired => 409,
            ErrorKind::RequestIdReused => 422,
            ErrorKind::NotLeader => 421,
            ErrorKind::NoLeader | ErrorKind::CatalogUnavailable | ErrorKind::Overloaded => 503,
            ErrorKind::MissingCredential => 401,
            ErrorKind::WrongCredential | ErrorKind::AdminRequired => 403,
        }
    }

    /// The message the contract gives it.
    pub const fn message(self) -> &'static str {
        match self {
            ErrorKind::ProductNotFound => "product not found",
            ErrorKind::OrderNotFound => "order not found",
            ErrorKind::OutOfStock => "out of stock",
            ErrorKind::RequestExpired => "request expired",
            ErrorKind::RequestIdReused => "request_id already used for a different order",
            ErrorKind::NotLeader => "not the leader",
            ErrorKind::NoLeader => "no leader",
            ErrorKind::CatalogUnavailable => "catalog unavailable",
            ErrorKind::MissingCredential => "missing credential",
            ErrorKind::WrongCredential => "wrong credential",
            ErrorKind::AdminRequired => "admin credential required",
            ErrorKind::Overloaded => "overloaded",
        }
    }

    /// The named error with this status and message, if there is one.
    pub fn of(status: u16, message: &str) -> Option<ErrorKind> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.status() == status && kind.message() == message)
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_from_its_status_and_message() {
        for kind in ErrorKind::ALL {
            assert_eq!(ErrorKind::of(kind.status(), kind.message()), Some(kind));
        }
        assert_eq!(ErrorKind::of(503, "out of stock"), None);
        assert_eq!(ErrorKind::of(409, "something else"), None);
    }
}
