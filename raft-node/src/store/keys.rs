//! Keys of the sled trees.

/// Big-endian bytes of a log index or order number, so sled's byte order is numeric order.
pub(crate) fn be_key(n: u64) -> [u8; 8] {
    n.to_be_bytes()
}

pub(crate) fn from_be_key(bytes: &[u8]) -> u64 {
    let mut buf = [0u8; 8];
    buf.copy_from_slice(&bytes[..8]);
    u64::from_be_bytes(buf)
}
