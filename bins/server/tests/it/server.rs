//! The server process: first start, operational endpoints, request ids, graceful shutdown,
//! replicas on PostgreSQL, configuration errors.

use std::time::Duration;

use sea_orm::{ConnectionTrait, Database, TransactionTrait};

use crate::harness::{Env, command};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

#[tokio::test]
async fn first_start_creates_the_key_file_and_serves_health_readiness_and_metrics() {
    let env = Env::sqlite();
    assert!(!env.key_path().exists());
    let server = env.start(&[]);
    assert!(env.key_path().exists(), "the key file was not created");
    assert!(
        server.logs().contains("created a new key file"),
        "{}",
        server.logs()
    );
    assert!(
        server.logs().contains("no operator token is configured"),
        "{}",
        server.logs()
    );
    let http = client();

    let healthz = http.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(healthz.status(), 200);
    let readyz = http.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(readyz.status(), 200);
    assert_eq!(readyz.text().await.unwrap(), "ready\n");

    let metrics = http.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), 200);
    assert!(
        metrics.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4"),
    );
    let text = metrics.text().await.unwrap();
    for line in text.lines() {
        assert!(
            line.starts_with("# HELP ") || line.starts_with("# TYPE ") || sample(line),
            "not a Prometheus text-format line: {line}"
        );
    }
    let readyz_series = "c15t_http_request_duration_seconds_count{route=\"/readyz\",method=\"GET\",status=\"200\"} 1";
    assert!(text.contains(readyz_series), "{text}");
    assert!(text.contains("c15t_http_request_duration_seconds_bucket{route=\"/healthz\",method=\"GET\",status=\"200\",le=\"+Inf\"} 1"), "{text}");
    assert!(text.contains("c15t_jobs{status=\"pending\"} 0"), "{text}");
    assert!(
        text.contains("c15t_deploys_total{outcome=\"succeeded\"} 0"),
        "{text}"
    );
    assert!(text.contains("c15t_store_up 1"), "{text}");
    assert!(text.contains("process_resident_memory_bytes "), "{text}");

    // A path no route matches is counted under one series, whatever the path.
    let missing = http.get(server.url("/no/such/path")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    let text = http
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!text.contains("/no/such/path"), "{text}");
    assert!(text.contains("route=\"unmatched\""), "{text}");
}

/// `name{labels} value` or `name value`, the value a number.
fn sample(line: &str) -> bool {
    let Some((series, value)) = line.rsplit_once(' ') else {
        return false;
    };
    let name_end = series.find('{').unwrap_or(series.len());
    let name = &series[..name_end];
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
        && (name_end == series.len() || series.ends_with('}'))
        && value.parse::<f64>().is_ok()
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated_and_logged() {
    let env = Env::sqlite();
    let server = env.start(&[]);
    let http = client();

    let echoed = http
        .get(server.url("/healthz"))
        .header("x-request-id", "ci-run-42")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "ci-run-42");

    let a = http.get(server.url("/healthz")).send().await.unwrap();
    let b = http.get(server.url("/healthz")).send().await.unwrap();
    let a = a.headers()["x-request-id"].to_str().unwrap().to_owned();
    let b = b.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(!a.is_empty() && a != b, "{a} {b}");

    // An id that cannot be logged safely is replaced.
    let replaced = http
        .get(server.url("/healthz"))
        .header("x-request-id", "x".repeat(500))
        .send()
        .await
        .unwrap();
    assert_ne!(replaced.headers()["x-request-id"], "x".repeat(500).as_str());

    // The id is in the request's span, so every log line of the request carries it.
    drop(server);
    let server = env.start_with(&[], &[("RUST_LOG", "info,c15t_api::ops=debug")]);
    let _ = http
        .get(server.url("/healthz"))
        .header("x-request-id", "trace-me-7")
        .send()
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let logs = server.logs();
        if let Some(line) = logs
            .lines()
            .find(|l| l.contains("request finished") && l.contains("trace-me-7"))
        {
            let json: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(json["span"]["id"], "trace-me-7", "{line}");
            assert_eq!(json["span"]["route"], "/healthz", "{line}");
            assert_eq!(json["status"], 200, "{line}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no access log line with the request id:\n{logs}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// SIGTERM while a request waits on the database: the request still gets its answer, new
/// connections are refused, and the process exits 0 once the request is done.
#[tokio::test]
async fn sigterm_finishes_the_request_in_flight_and_exits_zero() {
    let env = Env::postgres().await;
    let mut server = env.start(&[]);
    let http = client();
    assert_eq!(
        http.get(server.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // Hold a lock that makes `/readyz`'s customer lookup wait.
    let db = Database::connect(env.url.as_str()).await.unwrap();
    let txn = db.begin().await.unwrap();
    txn.execute_unprepared("LOCK TABLE customers IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let slow = {
        let http = http.clone();
        let url = server.url("/readyz");
        tokio::spawn(async move { http.get(url).send().await })
    };
    // Wait until the request's query is blocked on the lock.
    let waiting = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' \
                   AND datname = current_database()";
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let row = db
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                waiting.to_owned(),
            ))
            .await
            .unwrap()
            .unwrap();
        let n: i64 = row.try_get_by_index(0).unwrap();
        if n > 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the request never reached the database"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    server.terminate();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        server.try_wait().is_none(),
        "the server exited with a request in flight:\n{}",
        server.logs()
    );
    let refused = reqwest::Client::new()
        .get(server.url("/healthz"))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    assert!(
        refused.is_err(),
        "a new connection was accepted after SIGTERM"
    );

    txn.commit().await.unwrap();
    let answer = slow
        .await
        .unwrap()
        .expect("the request in flight was answered");
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.text().await.unwrap(), "ready\n");
    let status = server.wait(Duration::from_secs(30));
    assert!(status.success(), "exit status {status}:\n{}", server.logs());
    let logs = server.logs();
    assert!(logs.contains("SIGTERM"), "{logs}");
    assert!(logs.contains("job runner stopped"), "{logs}");
    db.close().await.unwrap();
}

#[tokio::test]
async fn two_replicas_share_one_postgres_database() {
    let env = Env::postgres().await;
    // Started together, they migrate one after the other and both run jobs and probes.
    let args = ["--health-interval-secs", "1"];
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| env.start(&args));
        let b = env.start(&args);
        (a.join().unwrap(), b)
    });
    let http = client();
    for server in [&a, &b] {
        let readyz = http.get(server.url("/readyz")).send().await.unwrap();
        assert_eq!(readyz.status(), 200, "{}", server.logs());
        let metrics = http
            .get(server.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(metrics.contains("c15t_store_up 1"), "{metrics}");
        assert!(
            metrics.contains("c15t_jobs{status=\"pending\"} 0"),
            "{metrics}"
        );
    }
    assert_ne!(a.addr, b.addr);
}

#[test]
fn token_generate_prints_a_token_and_its_hash() {
    let out = command().args(["token", "generate"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let token = text
        .lines()
        .find_map(|l| l.strip_prefix("token: "))
        .expect("a token line");
    let hash = text
        .lines()
        .find_map(|l| l.strip_prefix("hash:  "))
        .expect("a hash line");
    assert!(token.starts_with("c15t_op_"), "{text}");
    assert!(
        hash.starts_with("sha256:") && hash.len() == 7 + 64,
        "{text}"
    );
    assert!(text.contains(&format!("C15T_OPERATOR_TOKEN_HASHES={hash}")));
}

#[test]
fn a_bad_configuration_file_stops_the_start_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c15t-server.toml");
    std::fs::write(&path, "listen = \"not an address\"\n").unwrap();
    let out = command()
        .current_dir(dir.path())
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("c15t-server.toml"), "{stderr}");
    assert!(
        !dir.path().join("c15t.db").exists(),
        "a database was created"
    );
}

#[tokio::test]
async fn operator_tokens_never_reach_the_log_or_the_help() {
    const CANARY: &str = "c15t_op_canary-token-value";
    let env = Env::sqlite();
    let server = env.start_with(
        &[],
        &[("C15T_OPERATOR_TOKENS", CANARY), ("RUST_LOG", "trace")],
    );
    let http = client();
    // The configured token opens the API; another does not.
    let listed = http
        .get(server.url("/api/v1/customers"))
        .bearer_auth(CANARY)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    let refused = http
        .get(server.url("/api/v1/customers"))
        .bearer_auth("c15t_op_not-the-token")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let logs = server.logs();
    assert!(!logs.contains("no operator token is configured"), "{logs}");
    assert!(
        !logs.contains("canary-token-value"),
        "the token is in the log"
    );
    let help = command()
        .env("C15T_OPERATOR_TOKENS", CANARY)
        .arg("--help")
        .output()
        .unwrap();
    assert!(help.status.success());
    drop(server);
    let env_dir_files: Vec<_> = std::fs::read_dir(env.dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    for path in env_dir_files {
        let bytes = std::fs::read(&path).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&bytes).contains("canary-token-value"),
            "the token is in {}",
            path.display()
        );
    }
    assert!(!String::from_utf8_lossy(&help.stdout).contains("canary-token-value"));
}

/// SIGTERM while a deploy whose request went away is uploading: the server waits for the
/// detached deploy, which ends recorded (not `running`), and exits 0.
// Multi-threaded: the fake Cloudflare answers on this runtime while the test blocks in `wait`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_detached_deploy_finish_before_exiting() {
    use c15t_store::Store as _;
    const ACCOUNT: &str = "0123456789abcdef0123456789abcdef";
    const CF_TOKEN: &str = "cf-token-shutdown-test";
    const OPERATOR: &str = "c15t_op_shutdown-test-token-0001";
    let cf = c15t_testkit::cloudflare::FakeCloudflare::start().await;
    cf.add_account(ACCOUNT, "acme", CF_TOKEN);
    // Every upload takes two seconds: long enough to stop the server during one.
    cf.set_faults(c15t_testkit::cloudflare::Faults {
        slow_rate: 1.0,
        slow_for: Duration::from_secs(2),
        method: Some(reqwest::Method::PUT),
        ..Default::default()
    });
    let env = Env::sqlite();
    let target = c15t_codegen::TargetProfile::default();
    let mut js = String::from("// c15t runtime stand-in\n");
    for name in c15t_codegen::runtime_export_names(&target) {
        js.push_str(&format!("export const {name} = () => {{}};\n"));
    }
    let runtime = env.dir.path().join("runtime.js");
    std::fs::write(&runtime, js).unwrap();
    let api = cf.base_url();
    let runtime = runtime.display().to_string();
    let mut server = env.start_with(
        &["--shutdown-grace-secs", "20"],
        &[
            ("C15T_OPERATOR_TOKENS", OPERATOR),
            ("C15T_CLOUDFLARE_API", api.as_str()),
            ("C15T_RUNTIME", runtime.as_str()),
            ("C15T_ROLLOUT", "immediate"),
        ],
    );
    let http = client();
    let created = http
        .post(server.url("/api/v1/customers"))
        .bearer_auth(OPERATOR)
        .json(&serde_json::json!({
            "id": "cust_a",
            "name": "A",
            "database": { "url": "libsql://a.turso.io", "auth_token": "tok-a" },
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
    let delivery = http
        .patch(server.url("/api/v1/customers/cust_a/delivery"))
        .bearer_auth(OPERATOR)
        .json(&serde_json::json!({
            "target": { "type": "cloudflare", "account_id": ACCOUNT },
            "cloudflare_token": CF_TOKEN,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(delivery.status(), 200, "{}", delivery.text().await.unwrap());

    // The client gives up after half a second, in the middle of the upload.
    let gone = http
        .post(server.url("/api/v1/customers/cust_a/environments/production/deploy?wait=true"))
        .bearer_auth(OPERATOR)
        .timeout(Duration::from_millis(500))
        .send()
        .await;
    assert!(gone.is_err(), "the client timed out");
    server.terminate();
    let status = server.wait(Duration::from_secs(30));
    assert!(status.success(), "exit status {status}:\n{}", server.logs());
    let logs = server.logs();
    assert!(
        logs.contains("waiting for detached deploys and tests to finish"),
        "{logs}"
    );
    assert_eq!(cf.upload_count(ACCOUNT, "c15t-cust-a"), 1, "uploaded once");

    let store = c15t_store::SeaStore::connect(&env.url).await.unwrap();
    let customer: c15t_model::CustomerId = "cust_a".parse().unwrap();
    let deployments = store.deployment_list(&customer, None, 10).await.unwrap();
    assert_eq!(deployments.len(), 1);
    assert_eq!(
        deployments[0].status,
        c15t_store::DeploymentStatus::Succeeded,
        "{:?}",
        deployments[0]
    );
}
