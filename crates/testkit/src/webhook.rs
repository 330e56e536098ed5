//! A webhook receiver that records and verifies Standard Webhooks deliveries.
//!
//! [`WebhookReceiver::start`] listens on `127.0.0.1` on an ephemeral port and accepts a POST
//! to any path. Each delivery is recorded with its headers and body and the result of the
//! receiver's own verification (a small independent implementation of the spec: HMAC-SHA256
//! over `{id}.{timestamp}.{body}` with each configured `whsec_` secret, constant-time
//! comparison, a 5-minute timestamp tolerance). Answers follow a script
//! ([`WebhookReceiver::respond_with`]), then `200 OK` forever.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use tokio::sync::oneshot;

/// How far a `webhook-timestamp` may be from the receiver's clock (the reference libraries'
/// tolerance).
pub const TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// One scripted answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Respond {
    /// `200 OK` with a short body.
    Ok,
    /// This status, with a short body naming it.
    Status(u16),
    /// This status with `Retry-After: <seconds>`.
    RetryAfter(u16, u64),
    /// `Retry-After` with a raw header value (an HTTP date, or something malformed).
    RetryAfterRaw(u16, String),
    /// Wait this long before answering `200 OK` (longer than the sender's timeout, to test it).
    Slow(Duration),
    /// This status and body.
    Body(u16, String),
}

/// How a delivery's signature checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// A `v1` signature matched the secret at this index of the receiver's list.
    Verified {
        /// Index into the secrets given to [`WebhookReceiver::start`].
        secret: usize,
    },
    /// Verification failed, and why.
    Failed(String),
}

/// One recorded delivery.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Every header, lower-case name and value, in arrival order.
    pub headers: Vec<(String, String)>,
    /// The body as received.
    pub body: Bytes,
    /// The receiver's verdict on the signature.
    pub verification: Verification,
    /// The path the POST went to.
    pub path: String,
}

impl Delivery {
    /// The first value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// `webhook-id`.
    pub fn id(&self) -> Option<&str> {
        self.header("webhook-id")
    }

    /// `webhook-timestamp`, parsed.
    pub fn timestamp(&self) -> Option<u64> {
        self.header("webhook-timestamp")?.parse().ok()
    }

    /// Whether a signature verified.
    pub fn verified(&self) -> bool {
        matches!(self.verification, Verification::Verified { .. })
    }

    /// The index of the secret that verified, if one did.
    pub fn matched_secret(&self) -> Option<usize> {
        match self.verification {
            Verification::Verified { secret } => Some(secret),
            Verification::Failed(_) => None,
        }
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("the delivery's body is JSON")
    }
}

#[derive(Debug, Default)]
struct Inner {
    script: VecDeque<Respond>,
    deliveries: Vec<Delivery>,
}

#[derive(Debug)]
struct Shared {
    /// Decoded keys, in the order given.
    keys: Vec<Vec<u8>>,
    inner: Mutex<Inner>,
}

/// A running receiver; stops when dropped.
#[derive(Debug)]
pub struct WebhookReceiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
}

impl WebhookReceiver {
    /// Starts a receiver verifying with `secrets` (`whsec_...`; panics on one that is not).
    pub async fn start(secrets: Vec<String>) -> Self {
        let keys = secrets
            .iter()
            .map(|s| {
                let encoded = s.strip_prefix("whsec_").expect("secrets start with whsec_");
                STANDARD.decode(encoded).expect("secrets are base64")
            })
            .collect();
        let shared = Arc::new(Shared {
            keys,
            inner: Mutex::default(),
        });
        let app = Router::new()
            .fallback(receive)
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .expect("webhook receiver");
        });
        Self {
            addr,
            shared,
            stop: Some(stop),
        }
    }

    /// `http://127.0.0.1:<port>/webhooks`.
    pub fn url(&self) -> String {
        format!("http://{}/webhooks", self.addr)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Answers the next requests with `script`, in order (replacing what is left of an earlier
    /// script), then `200 OK`.
    pub fn respond_with(&self, script: Vec<Respond>) {
        self.shared.inner.lock().expect("receiver lock").script = script.into();
    }

    /// Every delivery so far, in arrival order.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.shared
            .inner
            .lock()
            .expect("receiver lock")
            .deliveries
            .clone()
    }
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn receive(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let verification = verify(&shared.keys, &headers, &body, now());
    let delivery = Delivery {
        headers: headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body,
        verification,
        path: uri.path().to_owned(),
    };
    // Recorded before answering, so a delivery the sender gave up on is still seen.
    let respond = {
        let mut inner = shared.inner.lock().expect("receiver lock");
        inner.deliveries.push(delivery);
        inner.script.pop_front().unwrap_or(Respond::Ok)
    };
    let status = |code: u16| StatusCode::from_u16(code).expect("a valid status code");
    match respond {
        Respond::Ok => (StatusCode::OK, "ok").into_response(),
        Respond::Status(code) => (status(code), format!("scripted {code}")).into_response(),
        Respond::RetryAfter(code, secs) => (
            status(code),
            [("retry-after", secs.to_string())],
            format!("scripted {code}"),
        )
            .into_response(),
        Respond::RetryAfterRaw(code, value) => (
            status(code),
            [("retry-after", value)],
            format!("scripted {code}"),
        )
            .into_response(),
        Respond::Slow(d) => {
            tokio::time::sleep(d).await;
            (StatusCode::OK, "late").into_response()
        }
        Respond::Body(code, body) => (status(code), body).into_response(),
    }
}

#[allow(
    clippy::disallowed_methods,
    reason = "verifying a webhook timestamp compares it with the wall clock, as a real receiver does"
)]
fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The spec's verification, independent of the sender's code.
fn verify(keys: &[Vec<u8>], headers: &HeaderMap, body: &[u8], now: u64) -> Verification {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(id), Some(ts), Some(sigs)) = (
        get("webhook-id"),
        get("webhook-timestamp"),
        get("webhook-signature"),
    ) else {
        return Verification::Failed("missing webhook-id, -timestamp or -signature".to_owned());
    };
    let Ok(timestamp) = ts.parse::<u64>() else {
        return Verification::Failed(format!("webhook-timestamp {ts:?} is not an integer"));
    };
    if timestamp.abs_diff(now) > TOLERANCE.as_secs() {
        return Verification::Failed(format!(
            "webhook-timestamp {timestamp} is more than 5 minutes from now ({now})"
        ));
    }
    let mut signed = format!("{id}.{timestamp}.").into_bytes();
    signed.extend_from_slice(body);
    for (index, key) in keys.iter().enumerate() {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("any key length");
        mac.update(&signed);
        let expected = STANDARD.encode(mac.finalize().into_bytes());
        let matched = sigs.split(' ').any(|versioned| {
            versioned.split_once(',').is_some_and(|(v, sig)| {
                v == "v1" && constant_time_eq(sig.as_bytes(), expected.as_bytes())
            })
        });
        if matched {
            return Verification::Verified { secret: index };
        }
    }
    Verification::Failed("no v1 signature matches any secret".to_owned())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_the_reference_vector() {
        let key = STANDARD
            .decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .expect("key");
        let mut headers = HeaderMap::new();
        headers.insert(
            "webhook-id",
            "msg_p5jXN8AQM9LWM0D4loKWxJek".parse().expect("h"),
        );
        headers.insert("webhook-timestamp", "1614265330".parse().expect("h"));
        headers.insert(
            "webhook-signature",
            "v1,bm9ldHZhbGlk v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
                .parse()
                .expect("h"),
        );
        let body = br#"{"test": 2432232314}"#;
        let other = vec![0u8; 24];
        assert_eq!(
            verify(&[other, key], &headers, body, 1_614_265_330 + 10),
            Verification::Verified { secret: 1 }
        );
        let key = STANDARD
            .decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .expect("key");
        assert!(matches!(
            verify(std::slice::from_ref(&key), &headers, body, 1_614_265_330 + 301),
            Verification::Failed(reason) if reason.contains("5 minutes")
        ));
        assert!(matches!(
            verify(&[key], &headers, b"{}", 1_614_265_330),
            Verification::Failed(_)
        ));
    }
}
