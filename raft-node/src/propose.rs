//! Group commit of Raft proposals.
//!
//! openraft 0.9 appends each client write on its own and waits for the leader's flush
//! before it takes the next one, so one write per flush is the most a leader does. Here
//! every command goes through one queue: while a few batches are on their way through
//! Raft, the commands that arrive wait and go together, as one [`Command::Batch`] entry,
//! once a slot frees. A lone command under light load goes at once, as itself.

use openraft::error::{ClientWriteError, Fatal, RaftError};
use openraft::BasicNode;
use tokio::sync::{mpsc, oneshot};

use crate::typ::{Command, CommandResult, NodeId, Raft};

/// Batches on their way through Raft at once: one flushing on the leader while another
/// replicates keeps both the disk and the network busy.
const IN_FLIGHT: usize = 2;
/// Commands in one entry, at most.
const MAX_BATCH: usize = 512;
/// Commands waiting, at most, before `propose` itself waits.
const QUEUE: usize = 8192;

/// Why a proposal did not commit: openraft's own error.
pub(crate) type WriteError = RaftError<NodeId, ClientWriteError<NodeId, BasicNode>>;

type Reply = oneshot::Sender<Result<CommandResult, WriteError>>;

/// The queue of proposals; clones share it. The batching task stops with the last clone.
#[derive(Clone)]
pub(crate) struct Proposer {
    queue: mpsc::Sender<(Command, Reply)>,
}

impl Proposer {
    /// Starts the batching task on `raft`.
    pub(crate) fn start(raft: Raft) -> Self {
        let (queue, pending) = mpsc::channel(QUEUE);
        tokio::spawn(batch_all(raft, pending));
        Proposer { queue }
    }

    /// Commits `command` (alone or in a batch) and answers what applying it gave.
    pub(crate) async fn propose(&self, command: Command) -> Result<CommandResult, WriteError> {
        let (reply, answer) = oneshot::channel();
        let stopped = || RaftError::Fatal(Fatal::Stopped);
        self.queue
            .send((command, reply))
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// Commits everything queued meanwhile together (see [`crate::batching`]).
async fn batch_all(raft: Raft, pending: mpsc::Receiver<(Command, Reply)>) {
    crate::batching::drain(pending, IN_FLIGHT, MAX_BATCH, move |batch| {
        let raft = raft.clone();
        async move { commit(&raft, batch).await }
    })
    .await;
}

/// Commits one batch and answers each of its proposers.
async fn commit(raft: &Raft, mut batch: Vec<(Command, Reply)>) {
    if batch.len() == 1 {
        let (command, reply) = batch.pop().expect("one proposal");
        let result = raft.client_write(command).await.map(|r| r.data);
        let _ = reply.send(result);
        return;
    }
    let (commands, replies): (Vec<Command>, Vec<Reply>) = batch.into_iter().unzip();
    let count = commands.len();
    match raft.client_write(Command::Batch(commands)).await {
        Ok(response) => match response.data {
            CommandResult::Batch(results) if results.len() == count => {
                for (reply, result) in replies.into_iter().zip(results) {
                    let _ = reply.send(Ok(result));
                }
            }
            other => {
                // Applying cannot answer otherwise; if it did, nobody's outcome is known.
                tracing::error!("a batch of {count} was applied as {other:?}");
            }
        },
        Err(err) => {
            for reply in replies {
                let _ = reply.send(Err(err.clone()));
            }
        }
    }
}
