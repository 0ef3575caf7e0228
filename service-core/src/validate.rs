//! The contract's limits on what clients send (section 2 and 3).

use crate::envelope::ApiError;

/// Longest product name, in characters.
pub const MAX_NAME_CHARS: usize = 64;
/// Largest quantity of one buy or reservation.
pub const MAX_QUANTITY: u64 = 1_000_000;
/// Longest idempotency key or request id.
pub const MAX_KEY_CHARS: usize = 64;

/// Product names: 1 to 64 characters.
pub fn product_name(name: &str) -> Result<(), ApiError> {
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS {
        return Err(ApiError::bad_request(format!(
            "product name must be 1 to {MAX_NAME_CHARS} characters"
        )));
    }
    Ok(())
}

/// Quantities: integers from 1 to 1,000,000.
pub fn quantity(quantity: u64) -> Result<(), ApiError> {
    if quantity == 0 || quantity > MAX_QUANTITY {
        return Err(ApiError::bad_request(format!(
            "quantity must be an integer from 1 to {MAX_QUANTITY}"
        )));
    }
    Ok(())
}

/// Idempotency keys and request ids: 1 to 64 of `[A-Za-z0-9_-]`.
pub fn request_key(key: &str) -> Result<(), ApiError> {
    let ok = !key.is_empty()
        && key.len() <= MAX_KEY_CHARS
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "key must be 1 to {MAX_KEY_CHARS} of [A-Za-z0-9_-]"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_inclusive_at_both_ends() {
        assert!(product_name("").is_err());
        assert!(product_name(&"é".repeat(64)).is_ok());
        assert!(product_name(&"a".repeat(65)).is_err());
        assert!(quantity(0).is_err());
        assert!(quantity(1).is_ok());
        assert!(quantity(MAX_QUANTITY).is_ok());
        assert!(quantity(MAX_QUANTITY + 1).is_err());
        assert!(request_key("abc_DEF-123").is_ok());
        assert!(request_key(&"k".repeat(64)).is_ok());
        assert!(request_key(&"k".repeat(65)).is_err());
        assert!(request_key("").is_err());
        assert!(request_key("a b").is_err());
        assert!(request_key("ä").is_err());
    }
}
