//! A fake of the vendors' script hosts (`connect.facebook.net`, `www.googletagmanager.com`,
//! `analytics.tiktok.com`, `*.posthog.com`, ...) for browser tests: one HTTPS server on
//! `127.0.0.1` with a self-signed certificate for those names, generated at start.
//!
//! A browser reaches it through [`FakeAssets::host_resolver_rules`] (Chromium's
//! `--host-resolver-rules`, which also makes every other host name fail to resolve, so a page
//! under test cannot reach the internet) and `--ignore-certificate-errors`. Every request is
//! recorded (method, host, path, query); `GET`s answer a script that only says what it stands
//! for, other methods (beacons) an empty `204`.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use http::{Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

/// The host names of the scripts `@c15t/scripts` 2.2.0 loads for the vendors the browser tests
/// use (and the names the certificate is for; with `--ignore-certificate-errors` any name
/// works).
pub const VENDOR_HOSTS: &[&str] = &[
    "connect.facebook.net",
    "www.facebook.com",
    "www.googletagmanager.com",
    "www.google-analytics.com",
    "analytics.tiktok.com",
    "eu-assets.i.posthog.com",
    "us-assets.i.posthog.com",
    "eu.i.posthog.com",
    "us.i.posthog.com",
];

/// One request the fake received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The `Host` header without the port (the name the browser asked for).
    pub host: String,
    /// The path.
    pub path: String,
    /// The raw query string, empty when there is none.
    pub query: String,
}

impl std::fmt::Display for AssetRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} https://{}{}", self.method, self.host, self.path)?;
        if !self.query.is_empty() {
            write!(f, "?{}", self.query)?;
        }
        Ok(())
    }
}

/// The running fake; stops (with its open connections) when dropped.
#[derive(Debug)]
pub struct FakeAssets {
    port: u16,
    log: Arc<Mutex<Vec<AssetRequest>>>,
    task: JoinHandle<()>,
}

impl FakeAssets {
    /// Starts the server on a free `127.0.0.1` port with a fresh self-signed certificate for
    /// [`VENDOR_HOSTS`] (and their `*.` wildcards).
    ///
    /// # Panics
    /// When no port can be bound or the certificate cannot be made.
    pub async fn start() -> Self {
        let mut names: Vec<String> = VENDOR_HOSTS.iter().map(|h| (*h).to_owned()).collect();
        names.extend(VENDOR_HOSTS.iter().map(|h| format!("*.{h}")));
        let certified = rcgen::generate_simple_self_signed(names).expect("self-signed certificate");
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            certified.signing_key.serialize_der(),
        ));
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(vec![certified.cert.der().clone()], key)
            .expect("TLS server config");
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = TlsAcceptor::from(Arc::new(config));

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake asset server");
        let port = listener.local_addr().expect("local address").port();
        let log = Arc::new(Mutex::new(Vec::new()));
        let task = tokio::spawn(accept_loop(listener, acceptor, Arc::clone(&log)));
        Self { port, log, task }
    }

    /// The loopback port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The value of Chromium's `--host-resolver-rules` that sends `hosts` to this server and
    /// makes every other name fail to resolve (`127.0.0.1` and `localhost` excepted), e.g.
    /// `MAP connect.facebook.net 127.0.0.1:4431, MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, ...`.
    pub fn host_resolver_rules(&self, hosts: &[&str]) -> String {
        let mut rules: Vec<String> = hosts
            .iter()
            .map(|h| format!("MAP {h} 127.0.0.1:{}", self.port))
            .collect();
        rules.push("MAP * ~NOTFOUND".to_owned());
        rules.push("EXCLUDE 127.0.0.1".to_owned());
        rules.push("EXCLUDE localhost".to_owned());
        rules.join(", ")
    }

    /// Every request so far, in the order they arrived.
    pub fn requests(&self) -> Vec<AssetRequest> {
        self.log.lock().expect("request log").clone()
    }

    /// The requests so far to `host`.
    pub fn requests_to(&self, host: &str) -> Vec<AssetRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.host == host)
            .collect()
    }
}

impl Drop for FakeAssets {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    acceptor: TlsAcceptor,
    log: Arc<Mutex<Vec<AssetRequest>>>,
) {
    // Connection tasks live in this set: aborting the loop drops it, which ends them.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((tcp, _)) = accepted else { continue };
                let acceptor = acceptor.clone();
                let log = Arc::clone(&log);
                connections.spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else { return };
                    let service = service_fn(move |request| {
                        let log = Arc::clone(&log);
                        async move { Ok::<_, std::convert::Infallible>(answer(&log, &request)) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

fn answer(log: &Mutex<Vec<AssetRequest>>, request: &Request<Incoming>) -> Response<Body> {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| request.uri().host())
        .unwrap_or_default();
    let host = host.split(':').next().unwrap_or_default().to_owned();
    let recorded = AssetRequest {
        method: request.method().to_string(),
        host,
        path: request.uri().path().to_owned(),
        query: request.uri().query().unwrap_or_default().to_owned(),
    };
    let builder = Response::builder()
        .header(header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")
        .header(header::CACHE_CONTROL, "no-store");
    let response = if recorded.method == "GET" {
        let body = format!(
            "/* c15t test fake of https://{}{} */\n",
            recorded.host, recorded.path
        );
        builder
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "application/javascript")
            .body(Body::from(body))
    } else {
        builder.status(StatusCode::NO_CONTENT).body(Body::empty())
    };
    log.lock().expect("request log").push(recorded);
    response.expect("response")
}
