//! The fake libSQL server against the real client (`@libsql/client/web` 0.8, what
//! `@libsql/kysely-libsql` uses in workerd, run by Node.js) and against Hrana requests written
//! out by hand for what that client never sends (v3, cursors, `describe`, expiry).

use std::path::{Path, PathBuf};
use std::time::Duration;

use c15t_testkit::libsql::{FakeLibsql, run_node_script};
use serde_json::{Value, json};

const TOKEN: &str = "libsql-test-token";

/// The pinned toolchain's `node_modules` (`cargo xtask npm` installs it).
fn node_modules() -> PathBuf {
    let nm = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/ts/node_modules");
    assert!(
        nm.join("@libsql/client").is_dir() && nm.join("@c15t/backend").is_dir(),
        "{} lacks @libsql/client or @c15t/backend: run `cargo xtask npm`",
        nm.display()
    );
    nm
}

/// Runs `script` with the fake's URL and `token`, and parses the JSON it prints last.
fn run_client(fake: &FakeLibsql, token: &str, script: &str) -> Value {
    let output = run_node_script(&node_modules(), script, &[fake.url(), token]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "node failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

const CLIENT_SCRIPT: &str = r#"
import { createClient } from '@libsql/client/web';
const [url, authToken] = process.argv.slice(2);
const client = createClient({ url, authToken });
const out = {};
const caught = async (f) => {
	try { await f(); return null; } catch (e) { return { code: e.code, message: e.message }; }
};
const count = async (where) =>
	(await client.execute(`SELECT count(*) AS n FROM t WHERE ${where}`)).rows[0].n;

await client.execute(
	'CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, score REAL, data BLOB, note VARCHAR(20))'
);
const insert = await client.execute({
	sql: 'INSERT INTO t (name, score, data, note) VALUES (?, ?, ?, ?)',
	args: ['ada', 1.5, new Uint8Array([0, 1, 2, 255]), null],
});
out.insert = { rowsAffected: insert.rowsAffected, lastInsertRowid: String(insert.lastInsertRowid) };
const named = await client.execute({
	sql: 'INSERT INTO t (name, score, note) VALUES (:name, $score, @note)',
	args: { name: 'bob', score: 2.25, note: 'hi' },
});
out.named = { rowsAffected: named.rowsAffected, lastInsertRowid: String(named.lastInsertRowid) };

const select = await client.execute('SELECT id, name, score, data, note, 40 + 2 AS answer FROM t ORDER BY id');
out.columns = select.columns;
out.columnTypes = select.columnTypes;
out.selectRowsAffected = select.rowsAffected;
out.rows = select.rows.map((r) => ({
	id: r.id,
	name: r.name,
	score: r.score,
	data: r.data === null ? null : Array.from(new Uint8Array(r.data)),
	note: r.note,
	answer: r.answer,
}));

const tx = await client.transaction('write');
await tx.execute({ sql: 'INSERT INTO t (name) VALUES (?)', args: ['carol'] });
out.txSeesItsWrite = (await tx.execute("SELECT count(*) AS n FROM t WHERE name = 'carol'")).rows[0].n;
await tx.commit();
out.carolAfterCommit = await count("name = 'carol'");

const rollback = await client.transaction('write');
await rollback.execute("INSERT INTO t (name) VALUES ('dave')");
await rollback.rollback();
out.daveAfterRollback = await count("name = 'dave'");

const batch = await client.batch(
	[
		{ sql: 'INSERT INTO t (name) VALUES (?)', args: ['erin'] },
		"UPDATE t SET score = 9 WHERE name = 'erin'",
		"SELECT score FROM t WHERE name = 'erin'",
	],
	'write'
);
out.batch = batch.map((r) => r.rowsAffected);
out.batchScore = batch[2].rows[0].score;
out.failedBatch = await caught(() =>
	client.batch(["INSERT INTO t (name) VALUES ('frank')", "INSERT INTO t (name) VALUES ('ada')"], 'write')
);
out.frankAfterFailedBatch = await count("name = 'frank'");

await client.executeMultiple('CREATE TABLE u (x); INSERT INTO u VALUES (1); INSERT INTO u VALUES (2);');
out.sequenceRows = (await client.execute('SELECT sum(x) AS s FROM u')).rows[0].s;

out.missingTable = await caught(() => client.execute('SELECT * FROM nope'));
out.unique = await caught(() => client.execute("INSERT INTO t (name) VALUES ('ada')"));
out.twoStatements = await caught(() => client.execute('SELECT 1; SELECT 2'));
out.missingArg = await caught(() => client.execute({ sql: 'SELECT ?, ?', args: [1] }));
client.close();
console.log(JSON.stringify(out));
"#;

#[test]
fn the_real_libsql_client_runs_against_the_fake() {
    let fake = FakeLibsql::start(TOKEN);
    let out = run_client(&fake, TOKEN, CLIENT_SCRIPT);

    assert_eq!(
        out["insert"],
        json!({ "rowsAffected": 1, "lastInsertRowid": "1" })
    );
    assert_eq!(
        out["named"],
        json!({ "rowsAffected": 1, "lastInsertRowid": "2" })
    );
    assert_eq!(
        out["columns"],
        json!(["id", "name", "score", "data", "note", "answer"])
    );
    assert_eq!(
        out["columnTypes"],
        json!(["INTEGER", "TEXT", "REAL", "BLOB", "VARCHAR(20)", ""]),
        "decltypes come from the table, none for an expression"
    );
    assert_eq!(out["selectRowsAffected"], 0);
    assert_eq!(
        out["rows"],
        json!([
            { "id": 1, "name": "ada", "score": 1.5, "data": [0, 1, 2, 255], "note": null, "answer": 42 },
            { "id": 2, "name": "bob", "score": 2.25, "data": null, "note": "hi", "answer": 42 },
        ])
    );

    assert_eq!(out["txSeesItsWrite"], 1);
    assert_eq!(out["carolAfterCommit"], 1);
    assert_eq!(out["daveAfterRollback"], 0);

    assert_eq!(out["batch"], json!([1, 1, 0]));
    assert_eq!(out["batchScore"], 9.0);
    assert_eq!(out["failedBatch"]["code"], "SQLITE_CONSTRAINT", "{out}");
    assert!(
        out["failedBatch"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("UNIQUE constraint failed: t.name")),
        "{out}"
    );
    assert_eq!(
        out["frankAfterFailedBatch"], 0,
        "the failed batch rolled back"
    );
    assert_eq!(out["sequenceRows"], 3);

    assert_eq!(out["missingTable"]["code"], "SQLITE_UNKNOWN", "{out}");
    assert!(
        out["missingTable"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("no such table: nope")),
        "{out}"
    );
    assert_eq!(out["unique"]["code"], "SQLITE_CONSTRAINT", "{out}");
    assert_eq!(out["twoStatements"]["code"], "SQL_MANY_STATEMENTS", "{out}");
    assert_eq!(out["missingArg"]["code"], "ARGS_INVALID", "{out}");

    // What the client wrote is in the SQLite file.
    assert_eq!(
        fake.query("SELECT name FROM t WHERE score = 9"),
        [[json!({ "type": "text", "value": "erin" })]]
    );
    // Every stream the client opened was closed (transactions included).
    assert_eq!(fake.open_streams(), 0);
}

#[test]
fn a_wrong_token_is_refused() {
    let fake = FakeLibsql::start(TOKEN);
    let out = run_client(
        &fake,
        "not-the-token",
        r#"
import { createClient } from '@libsql/client/web';
const [url, authToken] = process.argv.slice(2);
const client = createClient({ url, authToken });
let out;
try { await client.execute('SELECT 1'); out = { ok: true }; }
catch (e) { out = { code: e.code, message: e.message }; }
console.log(JSON.stringify(out));
"#,
    );
    assert_eq!(out["code"], "SERVER_ERROR", "{out}");
    assert!(
        out["message"].as_str().is_some_and(|m| m.contains("401")),
        "{out}"
    );
}

#[test]
fn c15t_migrates_through_the_fake() {
    let fake = FakeLibsql::start(TOKEN);
    fake.migrate_c15t(&node_modules());
    let tables: Vec<String> = fake
        .query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .into_iter()
        .map(|row| row[0]["value"].as_str().expect("a name").to_owned())
        .collect();
    for table in [
        "subject",
        "consent",
        "domain",
        "consentPolicy",
        "consentPurpose",
        "auditLog",
    ] {
        assert!(
            tables.iter().any(|t| t == table),
            "no {table} in {tables:?}"
        );
    }
    // Migrating again finds nothing left to do and fails on nothing.
    fake.migrate_c15t(&node_modules());
}

/// `POST path` with the fake's token and a JSON body.
async fn post(fake: &FakeLibsql, path: &str, body: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}{path}", fake.url()))
        .bearer_auth(TOKEN)
        .json(body)
        .send()
        .await
        .expect("request")
}

async fn pipeline(fake: &FakeLibsql, version: &str, baton: Option<&str>, requests: Value) -> Value {
    let response = post(
        fake,
        &format!("/{version}/pipeline"),
        &json!({ "baton": baton, "requests": requests }),
    )
    .await;
    assert_eq!(response.status(), 200);
    response.json().await.expect("JSON")
}

fn execute(sql: &str) -> Value {
    json!({ "type": "execute", "stmt": { "sql": sql } })
}

#[tokio::test]
async fn hrana_v3_streams_batches_and_cursors() {
    let fake = FakeLibsql::start(TOKEN);
    let http = reqwest::Client::new();
    for (path, status) in [("/v2", 200), ("/v3", 200), ("/v3-protobuf", 404)] {
        let response = http
            .get(format!("{}{path}", fake.url()))
            .send()
            .await
            .expect("probe");
        assert_eq!(response.status(), status, "{path}");
    }

    // A stream lives across requests: BEGIN in one, the autocommit state in the next.
    let first = pipeline(
        &fake,
        "v3",
        None,
        json!([
            execute("CREATE TABLE k (id INTEGER PRIMARY KEY, v TEXT)"),
            { "type": "store_sql", "sql_id": 7, "sql": "INSERT INTO k (v) VALUES (:v)" },
            execute("BEGIN"),
        ]),
    )
    .await;
    assert!(
        first["results"]
            .as_array()
            .expect("results")
            .iter()
            .all(|r| r["type"] == "ok"),
        "{first}"
    );
    let baton = first["baton"].as_str().expect("a baton").to_owned();
    let second = pipeline(
        &fake,
        "v3",
        Some(&baton),
        json!([
            { "type": "get_autocommit" },
            { "type": "execute", "stmt": { "sql_id": 7, "named_args": [
                { "name": "v", "value": { "type": "text", "value": "one" } }
            ] } },
            { "type": "describe", "sql": "SELECT id, v, ?1 AS p FROM k WHERE v = :v" },
            execute("SELECT * FROM missing"),
            { "type": "batch", "batch": { "steps": [
                { "stmt": { "sql": "SELECT 1" }, "condition": { "type": "is_autocommit" } },
                { "stmt": { "sql": "INSERT INTO k (v) VALUES ('two')" },
                  "condition": { "type": "not", "cond": { "type": "is_autocommit" } } },
                { "stmt": { "sql": "INSERT INTO k (id) VALUES (1)" } },
                { "stmt": { "sql": "SELECT 'after error'" },
                  "condition": { "type": "and", "conds": [
                      { "type": "error", "step": 2 }, { "type": "ok", "step": 1 } ] } },
                { "stmt": { "sql": "SELECT 'skipped'" },
                  "condition": { "type": "or", "conds": [ { "type": "ok", "step": 0 } ] } },
            ] } },
            execute("COMMIT"),
            { "type": "get_autocommit" },
        ]),
    )
    .await;
    assert_ne!(second["baton"], json!(baton), "a fresh baton every time");
    let results = &second["results"];
    assert_eq!(results[0]["response"]["is_autocommit"], false, "{second}");
    assert_eq!(results[1]["response"]["result"]["last_insert_rowid"], "1");
    assert_eq!(results[1]["response"]["result"]["affected_row_count"], 1);
    assert_eq!(
        results[2]["response"]["result"],
        json!({
            "params": [{ "name": "?1" }, { "name": ":v" }],
            "cols": [
                { "name": "id", "decltype": "INTEGER" },
                { "name": "v", "decltype": "TEXT" },
                { "name": "p", "decltype": null },
            ],
            "is_explain": false,
            "is_readonly": true,
        })
    );
    assert_eq!(results[3]["type"], "error");
    // SQLite's generic SQLITE_ERROR, which rusqlite (and so sqld) calls unknown.
    assert_eq!(results[3]["error"]["code"], "SQLITE_UNKNOWN");
    assert_eq!(
        results[3]["error"]["message"],
        "SQLite error: no such table: missing"
    );
    let batch = &results[4]["response"]["result"];
    assert_eq!(
        batch["step_results"][0],
        Value::Null,
        "skipped: in a transaction"
    );
    assert_eq!(batch["step_results"][1]["affected_row_count"], 1);
    assert_eq!(batch["step_errors"][2]["code"], "SQLITE_CONSTRAINT");
    assert_eq!(
        batch["step_results"][3]["rows"],
        json!([[{ "type": "text", "value": "after error" }]])
    );
    assert_eq!(batch["step_results"][4], Value::Null);
    assert_eq!(batch["step_errors"][4], Value::Null);
    assert_eq!(results[6]["response"]["is_autocommit"], true);

    // A cursor streams a batch's results as lines of JSON on the same stream.
    let response = post(
        &fake,
        "/v3/cursor",
        &json!({ "baton": second["baton"], "batch": { "steps": [
            { "stmt": { "sql": "SELECT id, v FROM k ORDER BY id" } },
            { "stmt": { "sql": "SELECT nope" } },
        ] } }),
    )
    .await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.expect("body");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert!(lines[0]["baton"].is_string(), "{text}");
    assert_eq!(lines[1]["type"], "step_begin");
    assert_eq!(
        lines[1]["cols"][1],
        json!({ "name": "v", "decltype": "TEXT" })
    );
    assert_eq!(
        lines[2],
        json!({ "type": "row", "row": [
            { "type": "integer", "value": "1" }, { "type": "text", "value": "one" } ] })
    );
    assert_eq!(lines[3]["row"][1]["value"], "two");
    assert_eq!(lines[4]["type"], "step_end");
    assert_eq!(lines[5]["type"], "step_error");
    assert_eq!(lines[5]["step"], 1);
    assert_eq!(lines.len(), 6, "{text}");

    // Closing ends the stream: a null baton, and the old one is refused.
    let closed = pipeline(
        &fake,
        "v3",
        lines[0]["baton"].as_str(),
        json!([{ "type": "close" }]),
    )
    .await;
    assert_eq!(closed["baton"], Value::Null);
    let reused = post(
        &fake,
        "/v3/pipeline",
        &json!({ "baton": lines[0]["baton"], "requests": [] }),
    )
    .await;
    assert_eq!(reused.status(), 400);
    assert_eq!(fake.open_streams(), 0);
}

#[tokio::test]
async fn v2_refuses_v3_requests_and_a_bad_request_is_a_400() {
    let fake = FakeLibsql::start(TOKEN);
    for requests in [
        json!([{ "type": "get_autocommit" }]),
        json!([{ "type": "batch", "batch": { "steps": [
            { "stmt": { "sql": "SELECT 1" }, "condition": { "type": "is_autocommit" } } ] } }]),
        json!([{ "type": "no_such_request" }]),
        json!([{ "type": "execute", "stmt": { "sql_id": 99 } }]),
    ] {
        let response = post(&fake, "/v2/pipeline", &json!({ "requests": requests })).await;
        assert_eq!(response.status(), 400, "{requests}");
    }
    let unauthorized = reqwest::Client::new()
        .post(format!("{}/v2/pipeline", fake.url()))
        .json(&json!({ "requests": [] }))
        .send()
        .await
        .expect("request");
    assert_eq!(unauthorized.status(), 401);
}

#[tokio::test]
async fn an_idle_stream_expires_and_rolls_back() {
    let fake = FakeLibsql::start_with_expiry(TOKEN, Duration::from_millis(300));
    let opened = pipeline(
        &fake,
        "v2",
        None,
        json!([
            execute("CREATE TABLE e (x)"),
            execute("BEGIN"),
            execute("INSERT INTO e VALUES (1)")
        ]),
    )
    .await;
    assert_eq!(fake.open_streams(), 1);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let late = post(
        &fake,
        "/v2/pipeline",
        &json!({ "baton": opened["baton"], "requests": [execute("COMMIT")] }),
    )
    .await;
    assert_eq!(late.status(), 400);
    let error: Value = late.json().await.expect("a JSON error");
    assert_eq!(error["code"], "STREAM_EXPIRED");
    assert_eq!(fake.open_streams(), 0);
    assert_eq!(fake.query("SELECT count(*) FROM e")[0][0]["value"], "0");
}

#[tokio::test]
async fn a_new_stream_can_write_once_an_abandoned_one_expired() {
    let fake = FakeLibsql::start_with_expiry(TOKEN, Duration::from_millis(300));
    pipeline(
        &fake,
        "v2",
        None,
        json!([
            execute("CREATE TABLE w (x)"),
            execute("BEGIN"),
            execute("INSERT INTO w VALUES (1)")
        ]),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    // No baton: a new stream, which must not wait for the abandoned write lock.
    let written = pipeline(
        &fake,
        "v2",
        None,
        json!([execute("INSERT INTO w VALUES (2)"), { "type": "close" }]),
    )
    .await;
    assert_eq!(written["results"][0]["type"], "ok", "{written}");
    assert_eq!(fake.open_streams(), 0);
    assert_eq!(fake.query("SELECT x FROM w")[0][0]["value"], "2");
}
