//! `GET /events`: the browsers' live feed. The gateway already follows the catalog's event
//! stream for its cache (the `invalidation` module); this module fans every invalidation it
//! receives out to each page that subscribed, over Server-Sent Events, so a storefront shows
//! a change of stock the moment it happens instead of polling for it.
//!
//! A subscriber gets `hello` first, then one `invalidate` per change (the catalog's data as
//! it came), and `resync` whenever it may have missed something: it fell behind the buffer,
//! or the gateway lost or regained the catalog's stream. The catalog cuts a lagging gateway
//! off, because a gateway must then clear its cache; a lagging page is told to read
//! everything again and stays subscribed instead, because a page's refetch is cheap and a
//! closed stream would leave it with no updates at all.
//!
//! Each open stream holds a connection and a receiver, so their number is capped
//! (`--max-event-subscribers`); one more is answered 503 at once.

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::stream::{self, Stream, StreamExt};
use prometheus::{IntCounter, IntGauge};
use service_core::ApiError;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use toystore_api::catalog::Invalidate;
use toystore_api::gateway::{
    LiveHello, Resync, ResyncReason, LIVE_HELLO, LIVE_INVALIDATE, LIVE_RESYNC,
};

/// How often an idle stream gets a comment, so proxies and browsers keep it open.
pub const KEEP_ALIVE: Duration = Duration::from_secs(10);
/// Events a subscriber may fall behind before it is told to resync.
const BUFFER: usize = 1024;
/// How long a browser waits before reconnecting a stream that broke (sent in `hello`).
const RECONNECT: Duration = Duration::from_secs(1);
/// The message of the 503 past the cap.
pub const TOO_MANY: &str = "too many event subscribers";

/// What goes out to every subscriber.
#[derive(Debug, Clone)]
enum LiveEvent {
    Invalidate(Invalidate),
    Resync(Resync),
}

/// The fan-out of invalidations to browsers; clones share one feed.
#[derive(Clone)]
pub struct LiveFeed {
    inner: Arc<Inner>,
}

struct Inner {
    sender: broadcast::Sender<LiveEvent>,
    /// Whether the gateway follows the catalog's stream now.
    live: AtomicBool,
    open: AtomicUsize,
    limit: usize,
    keep_alive: Duration,
    /// Ends every stream, so a graceful shutdown does not wait on open pages.
    shutdown: CancellationToken,
    open_gauge: IntGauge,
    refused: IntCounter,
}

/// The settings of a [`LiveFeed`].
pub struct LiveOptions {
    /// Most streams open at once.
    pub limit: usize,
    /// Interval of the keep-alive comment ([`KEEP_ALIVE`] in the binary).
    pub keep_alive: Duration,
    /// Counts open streams (`gateway_event_subscribers`).
    pub open_gauge: IntGauge,
    /// Counts streams refused at the cap (`gateway_event_subscribers_refused_total`).
    pub refused: IntCounter,
}

/// Lives inside a stream and gives its place back when the stream is dropped.
struct Place(Arc<Inner>);

impl Drop for Place {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
        self.0.open_gauge.dec();
    }
}

impl LiveFeed {
    /// A feed whose streams end when `shutdown` is cancelled.
    pub fn new(options: LiveOptions, shutdown: CancellationToken) -> Self {
        let (sender, _) = broadcast::channel(BUFFER);
        LiveFeed {
            inner: Arc::new(Inner {
                sender,
                live: AtomicBool::new(false),
                open: AtomicUsize::new(0),
                limit: options.limit,
                keep_alive: options.keep_alive,
                shutdown,
                open_gauge: options.open_gauge,
                refused: options.refused,
            }),
        }
    }

    /// Passes one of the catalog's invalidations on to every subscriber (none is fine).
    pub fn publish(&self, change: Invalidate) {
        let _ = self.inner.sender.send(LiveEvent::Invalidate(change));
    }

    /// Records whether the gateway follows the catalog's stream; a change of either kind
    /// sends every subscriber a `resync`, as changes may have gone unseen around it.
    pub fn set_live(&self, live: bool) {
        if self.inner.live.swap(live, Ordering::SeqCst) == live {
            return;
        }
        let reason = if live {
            ResyncReason::CatalogBack
        } else {
            ResyncReason::CatalogLost
        };
        let _ = self
            .inner
            .sender
            .send(LiveEvent::Resync(Resync { reason, live }));
    }

    /// Whether the gateway follows the catalog's stream now.
    pub fn is_live(&self) -> bool {
        self.inner.live.load(Ordering::SeqCst)
    }

    /// Streams open now.
    pub fn open(&self) -> usize {
        self.inner.open.load(Ordering::Acquire)
    }

    /// The SSE response of one more subscriber, or 503 when `limit` are open.
    pub fn subscribe(
        &self,
    ) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
        let place = self.take_place()?;
        // Subscribe before reading `live` for `hello`, so a change of it between the two
        // still reaches this subscriber as a `resync`.
        let receiver = self.inner.sender.subscribe();
        let hello = json_event(
            LIVE_HELLO,
            &LiveHello {
                live: self.is_live(),
            },
        )
        .retry(RECONNECT);
        let changes = stream::unfold(
            (receiver, self.inner.clone()),
            |(mut receiver, inner)| async move {
                let event = next_event(&mut receiver, &inner).await?;
                Some((event, (receiver, inner)))
            },
        );
        let stream = stream::once(futures::future::ready(hello))
            .chain(changes)
            .take_until(self.inner.shutdown.clone().cancelled_owned())
            .map(move |event| {
                let _ = &place;
                Ok(event)
            });
        let keep_alive = KeepAlive::new()
            .interval(self.inner.keep_alive)
            .text("keep-alive");
        Ok(Sse::new(stream).keep_alive(keep_alive))
    }

    fn take_place(&self) -> Result<Place, ApiError> {
        let taken = self.inner.open.fetch_add(1, Ordering::AcqRel);
        if taken >= self.inner.limit {
            self.inner.open.fetch_sub(1, Ordering::AcqRel);
            self.inner.refused.inc();
            return Err(
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, TOO_MANY).with_retry_after(5)
            );
        }
        self.inner.open_gauge.inc();
        Ok(Place(self.inner.clone()))
    }
}

/// The next event for one subscriber; `None` once the feed is gone.
async fn next_event(receiver: &mut broadcast::Receiver<LiveEvent>, inner: &Inner) -> Option<Event> {
    match receiver.recv().await {
        Ok(LiveEvent::Invalidate(change)) => Some(json_event(LIVE_INVALIDATE, &change)),
        Ok(LiveEvent::Resync(resync)) => Some(json_event(LIVE_RESYNC, &resync)),
        Err(broadcast::error::RecvError::Lagged(skipped)) => {
            // The receiver now continues from the oldest event still buffered.
            tracing::debug!(skipped, "an event subscriber lagged; sending it resync");
            let resync = Resync {
                reason: ResyncReason::Lagged,
                live: inner.live.load(Ordering::SeqCst),
            };
            Some(json_event(LIVE_RESYNC, &resync))
        }
        Err(broadcast::error::RecvError::Closed) => None,
    }
}

fn json_event<T: serde::Serialize>(name: &str, data: &T) -> Event {
    Event::default()
        .event(name)
        .json_data(data)
        .unwrap_or_else(|_| Event::default().comment("unencodable event"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::BodyDataStream;
    use axum::response::IntoResponse;

    fn feed(limit: usize, keep_alive: Duration) -> (LiveFeed, CancellationToken) {
        let shutdown = CancellationToken::new();
        let options = LiveOptions {
            limit,
            keep_alive,
            open_gauge: IntGauge::new("open", "o").unwrap(),
            refused: IntCounter::new("refused", "r").unwrap(),
        };
        (LiveFeed::new(options, shutdown.clone()), shutdown)
    }

    fn body(feed: &LiveFeed) -> BodyDataStream {
        let sse = feed.subscribe().expect("a place is free");
        sse.into_response().into_body().into_data_stream()
    }

    /// The next `count` events as (name, data), skipping comments; the text read is kept
    /// in `seen` for assertions about comments.
    async fn events(body: &mut BodyDataStream, count: usize) -> Vec<(String, String)> {
        let mut text = String::new();
        let mut found = Vec::new();
        while found.len() < count {
            let chunk = tokio::time::timeout(Duration::from_secs(5), body.next())
                .await
                .expect("an event within 5 s")
                .expect("the stream is open")
                .unwrap();
            text.push_str(std::str::from_utf8(&chunk).unwrap());
            while let Some(end) = text.find("\n\n") {
                let block: String = text.drain(..end + 2).collect();
                let field = |name: &str| {
                    block
                        .lines()
                        .find_map(|line| line.strip_prefix(name))
                        .map(str::to_string)
                };
                if let Some(event) = field("event: ") {
                    found.push((event, field("data: ").unwrap_or_default()));
                }
            }
        }
        found
    }

    fn tux(version: u64) -> Invalidate {
        Invalidate {
            name: "Tux".into(),
            quantity: version,
            price: 25.99,
            version,
        }
    }

    #[tokio::test]
    async fn hello_then_changes_then_resyncs_when_the_catalog_stream_comes_and_goes() {
        let (feed, _shutdown) = feed(8, KEEP_ALIVE);
        let mut body = body(&feed);
        feed.set_live(true);
        feed.set_live(true); // no change, no event
        feed.publish(tux(1));
        feed.set_live(false);
        let got = events(&mut body, 4).await;
        assert_eq!(got[0], ("hello".into(), r#"{"live":false}"#.into()));
        assert_eq!(
            got[1],
            (
                "resync".into(),
                r#"{"reason":"catalog_back","live":true}"#.into()
            )
        );
        assert_eq!(got[2].0, "invalidate");
        let change: Invalidate = serde_json::from_str(&got[2].1).unwrap();
        assert_eq!(change, tux(1));
        assert_eq!(
            got[3],
            (
                "resync".into(),
                r#"{"reason":"catalog_lost","live":false}"#.into()
            )
        );
    }

    #[tokio::test]
    async fn a_subscriber_that_lags_gets_resync_and_stays_subscribed() {
        let (feed, _shutdown) = feed(8, KEEP_ALIVE);
        feed.set_live(true);
        let mut body = body(&feed);
        for version in 0..(BUFFER as u64 + 10) {
            feed.publish(tux(version));
        }
        let got = events(&mut body, 3).await;
        assert_eq!(got[0], ("hello".into(), r#"{"live":true}"#.into()));
        assert_eq!(
            got[1],
            ("resync".into(), r#"{"reason":"lagged","live":true}"#.into())
        );
        let next: Invalidate = serde_json::from_str(&got[2].1).unwrap();
        assert_eq!(next.version, 10, "it goes on from the oldest event kept");
        feed.publish(tux(99_999));
        let last = events(&mut body, BUFFER).await.pop().unwrap();
        assert!(last.1.contains("99999"), "{last:?}");
    }

    #[tokio::test]
    async fn the_cap_refuses_with_503_and_a_closed_stream_frees_its_place() {
        let (feed, _shutdown) = feed(2, KEEP_ALIVE);
        let first = body(&feed);
        let _second = body(&feed);
        assert_eq!(feed.open(), 2);
        let Err(refused) = feed.subscribe() else {
            panic!("a third is refused")
        };
        assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(refused.message, TOO_MANY);
        assert_eq!(refused.retry_after_secs, Some(5));
        assert_eq!(feed.inner.refused.get(), 1);
        assert_eq!(feed.inner.open_gauge.get(), 2);
        drop(first);
        assert_eq!(feed.open(), 1);
        let _third = body(&feed);
        assert_eq!(feed.inner.open_gauge.get(), 2);
    }

    #[tokio::test]
    async fn idle_streams_get_keep_alive_comments_and_end_at_shutdown() {
        let (feed, shutdown) = feed(8, Duration::from_millis(50));
        let mut body = body(&feed);
        let mut text = String::new();
        while !text.contains(": keep-alive\n") {
            let chunk = tokio::time::timeout(Duration::from_secs(5), body.next())
                .await
                .expect("a keep-alive within 5 s")
                .unwrap()
                .unwrap();
            text.push_str(std::str::from_utf8(&chunk).unwrap());
        }
        assert!(text.starts_with("event: hello\n"), "{text}");
        assert!(text.contains("retry: 1000\n"), "{text}");
        shutdown.cancel();
        let end = tokio::time::timeout(Duration::from_secs(5), async {
            while body.next().await.is_some() {}
        })
        .await;
        assert!(end.is_ok(), "the stream ends at shutdown");
        drop(body); // what the server does with a finished body
        assert_eq!(feed.open(), 0);
    }
}
