//! Storage failures as the error type openraft fixes for every storage call.

use openraft::{AnyError, StorageIOError};

use crate::typ::{NodeId, StorageError};

/// Errors of the log (reads and writes) as openraft wants them.
pub(crate) fn log_write_err(e: impl std::error::Error + 'static) -> StorageError {
    StorageIOError::<NodeId>::write_logs(AnyError::new(&e)).into()
}
pub(crate) fn log_read_err(e: impl std::error::Error + 'static) -> StorageError {
    StorageIOError::<NodeId>::read_logs(AnyError::new(&e)).into()
}
pub(crate) fn vote_write_err(e: impl std::error::Error + 'static) -> StorageError {
    StorageIOError::<NodeId>::write_vote(AnyError::new(&e)).into()
}
pub(crate) fn vote_read_err(e: impl std::error::Error + 'static) -> StorageError {
    StorageIOError::<NodeId>::read_vote(AnyError::new(&e)).into()
}
pub(crate) fn sm_write_err(e: impl std::error::Error + 'static) -> StorageError {
    StorageIOError::<NodeId>::write_state_machine(AnyError::new(&e)).into()
}
pub(crate) fn sm_read_err(e: impl std::error::Error + 'static) -> StorageError {
    StorageIOError::<NodeId>::read_state_machine(AnyError::new(&e)).into()
}
pub(crate) fn snapshot_err(e: impl std::error::Error + 'static) -> StorageError {
    StorageIOError::<NodeId>::write_snapshot(None, AnyError::new(&e)).into()
}
