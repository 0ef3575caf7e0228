//! The `/events` stream: every change of stock or price, pushed to subscribed gateways.
//!
//! Each subscriber gets `hello` (this process's epoch, so a gateway can tell a restarted
//! catalog from a reconnect to the same one), then one `invalidate` per change. A
//! subscriber that falls behind the buffer is disconnected rather than silently skipped:
//! a missed invalidation would leave a stale cache, while a dropped stream makes the
//! gateway clear its cache and resubscribe.

use std::convert::Infallible;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use futures::stream::{self, Stream, StreamExt};
use prometheus::IntGauge;
use tokio::sync::broadcast;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::BroadcastStream;
use tokio_util::sync::CancellationToken;

use toystore_api::catalog::{Hello, Invalidate, EVENT_HELLO, EVENT_INVALIDATE};

/// Keep-alive comments, within the contract's 5 s.
pub(crate) const KEEP_ALIVE: Duration = Duration::from_secs(2);
/// Events a slow subscriber may lag behind before it is cut off.
const BUFFER: usize = 4096;

/// Fans invalidations out to every subscriber.
#[derive(Clone)]
pub(crate) struct EventHub {
    epoch: String,
    sender: broadcast::Sender<Invalidate>,
    shutdown: CancellationToken,
    open_streams: IntGauge,
}

/// Keeps the open-streams gauge right: one lives inside each stream and drops with it.
struct StreamGuard(IntGauge);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl EventHub {
    /// A hub whose streams end when `shutdown` is cancelled; `open_streams` counts them.
    pub(crate) fn new(shutdown: CancellationToken, open_streams: IntGauge) -> Self {
        let (sender, _) = broadcast::channel(BUFFER);
        EventHub {
            epoch: uuid::Uuid::new_v4().simple().to_string(),
            sender,
            shutdown,
            open_streams,
        }
    }

    pub(crate) fn epoch(&self) -> &str {
        &self.epoch
    }

    /// Sends one invalidation to every subscriber (none is fine).
    pub(crate) fn publish(&self, event: Invalidate) {
        let _ = self.sender.send(event);
    }

    pub(crate) fn publish_all(&self, events: impl IntoIterator<Item = Invalidate>) {
        for event in events {
            self.publish(event);
        }
    }

    /// The SSE response of one subscriber.
    pub(crate) fn subscribe(&self) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
        // Subscribe before building `hello`, so no change can fall between the two.
        let receiver = self.sender.subscribe();
        let hello = json_event(
            EVENT_HELLO,
            &Hello {
                epoch: self.epoch.clone(),
            },
        );
        let changes = BroadcastStream::new(receiver)
            .take_while(|item| {
                let keep = !matches!(item, Err(BroadcastStreamRecvError::Lagged(_)));
                if !keep {
                    tracing::warn!("an event subscriber lagged behind; closing its stream");
                }
                futures::future::ready(keep)
            })
            .filter_map(|item| futures::future::ready(item.ok()))
            .map(|event| json_event(EVENT_INVALIDATE, &event));
        self.open_streams.inc();
        let guard = StreamGuard(self.open_streams.clone());
        let stream = stream::once(futures::future::ready(hello))
            .chain(changes)
            .take_until(self.shutdown.clone().cancelled_owned())
            .map(move |event| {
                let _ = &guard;
                Ok(event)
            });
        Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE).text("keep-alive"))
    }
}

fn json_event<T: serde::Serialize>(name: &str, data: &T) -> Event {
    Event::default()
        .event(name)
        .json_data(data)
        .unwrap_or_else(|_| Event::default().comment("unencodable event"))
}
