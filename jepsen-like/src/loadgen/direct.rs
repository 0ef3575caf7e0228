//! One keep-alive HTTP/1.1 connection owned by one load-generator task, for plain-HTTP
//! targets: requests go straight onto it, not through reqwest's shared pool and its
//! hand-off to a connection task.
//!
//! The load generator shares the machine's cores with what it measures, so its own cost
//! per request caps what it can show. Against one gateway serving cached product reads
//! at 64 connections on two cores, the pooled client reached 36-41k requests/s and a
//! connection per task 66-71k/s. HTTPS targets keep the pooled client (TLS roots and
//! handshakes are its job).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use reqwest::header::{HeaderValue, AUTHORIZATION, HOST};
use toystore_api::Transport;

use super::outcome::Outcome;
use crate::clients::CLIENT_TIMEOUT;

/// A task's connection, opened on first use and again whenever the server closed it.
pub(super) struct Direct {
    /// `Authorization` for every request, as the pooled client would add it.
    token: Option<HeaderValue>,
    open: Option<Open>,
}

struct Open {
    /// `host:port` it is connected to.
    authority: String,
    sender: SendRequest<Full<Bytes>>,
}

impl Direct {
    /// A direct connection for `transport`, unless it speaks TLS.
    pub(super) fn new(transport: &Transport) -> Option<Direct> {
        if transport.tls.is_some() {
            return None;
        }
        let token = transport.token.as_ref().and_then(|secret| {
            let mut value = HeaderValue::from_str(&format!("Bearer {}", secret.expose())).ok()?;
            value.set_sensitive(true);
            Some(value)
        });
        Some(Direct { token, open: None })
    }

    /// Sends `request` and reads its whole answer, as the pooled client's sends do.
    pub(super) async fn send(&mut self, request: reqwest::Request) -> Outcome {
        let path = request.url().path().to_string();
        match tokio::time::timeout(CLIENT_TIMEOUT, self.exchange(request)).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(err)) => {
                self.open = None;
                Outcome::Failed(format!("{path}: {err}"))
            }
            Err(_) => {
                self.open = None;
                Outcome::Failed(format!("{path}: no answer within {CLIENT_TIMEOUT:?}"))
            }
        }
    }

    async fn exchange(&mut self, request: reqwest::Request) -> anyhow::Result<Outcome> {
        let url = request.url();
        let host = url.host_str().unwrap_or("localhost");
        let authority = match url.port_or_known_default() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        };
        let target = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_string(),
        };
        let mut builder = hyper::Request::builder()
            .method(request.method().clone())
            .uri(target);
        for (name, value) in request.headers() {
            builder = builder.header(name, value);
        }
        builder = builder.header(HOST, authority.as_str());
        if let Some(token) = &self.token {
            if !request.headers().contains_key(AUTHORIZATION) {
                builder = builder.header(AUTHORIZATION, token.clone());
            }
        }
        let body = request
            .body()
            .and_then(|b| b.as_bytes())
            .map(Bytes::copy_from_slice)
            .unwrap_or_default();
        let outgoing = builder.body(Full::new(body))?;

        let sender = self.sender(&authority).await?;
        let response = sender.send_request(outgoing).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        Ok(if status.is_success() {
            Outcome::Ok
        } else {
            Outcome::refused(url.path(), status, &body)
        })
    }

    /// The open connection to `authority`, opened now if there is none or it closed (a
    /// `Connection: close` answer closes it).
    async fn sender(&mut self, authority: &str) -> anyhow::Result<&mut SendRequest<Full<Bytes>>> {
        let reusable = match self.open.as_mut() {
            Some(open) if open.authority == authority => open.sender.ready().await.is_ok(),
            _ => false,
        };
        if !reusable {
            let stream = tokio::net::TcpStream::connect(authority).await?;
            stream.set_nodelay(true)?;
            let (mut sender, connection) =
                http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
            tokio::spawn(connection);
            sender.ready().await?;
            self.open = Some(Open {
                authority: authority.to_string(),
                sender,
            });
        }
        Ok(&mut self.open.as_mut().expect("open").sender)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A loopback server answering each request read with `response`; counts connections.
    async fn server(response: &'static str) -> (String, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = socket.read(&mut buf).await {
                        if n == 0 || socket.write_all(response.as_bytes()).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        (format!("http://{addr}"), accepted)
    }

    fn get(url: &str) -> reqwest::Request {
        reqwest::Client::new().get(url).build().unwrap()
    }

    #[tokio::test]
    async fn requests_share_one_connection_until_the_server_closes_it() {
        let mut direct = Direct::new(&Transport::default()).unwrap();
        let (kept, accepted) = server("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").await;
        for _ in 0..5 {
            assert_eq!(direct.send(get(&format!("{kept}/a"))).await, Outcome::Ok);
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);

        let (closing, accepted) =
            server("HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok").await;
        for _ in 0..3 {
            assert_eq!(direct.send(get(&format!("{closing}/b"))).await, Outcome::Ok);
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn failures_and_shed_answers_are_told_apart() {
        let mut direct = Direct::new(&Transport::default()).unwrap();
        let (failing, _) =
            server("HTTP/1.1 500 Internal Server Error\r\ncontent-length: 4\r\n\r\nboom").await;
        assert_eq!(
            direct.send(get(&format!("{failing}/orders"))).await,
            Outcome::Failed("/orders: 500 Internal Server Error boom".to_string())
        );
        let (shedding, _) =
            server("HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n").await;
        assert_eq!(
            direct.send(get(&format!("{shedding}/x"))).await,
            Outcome::Shed
        );
        match direct.send(get("http://127.0.0.1:1/orders")).await {
            Outcome::Failed(what) => assert!(what.starts_with("/orders: "), "{what}"),
            other => panic!("{other:?}"),
        }
        let tls = Transport {
            tls: Some(toystore_api::transport::ClientTls {
                ca_pem: Vec::new(),
                identity_pem: None,
            }),
            ..Default::default()
        };
        assert!(Direct::new(&tls).is_none());
    }
}
