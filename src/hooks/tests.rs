//! Tests of what events set off (matching, the outbox rows written with them), of the retry
//! schedule and endpoint health as recorded, and of the guard on real sockets: no blocked
//! address, literal or resolved, gets a connection.

use super::outbox::{self, Due, Kind, Outcome};
use super::*;
use crate::clock::ManualClock;
use crate::settings::Settings;
use crate::store;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

const TOKEN: &str = "3F2504E0-4F89-11D3-9A0C-0305E82C3301";

fn token() -> TokenId {
    crate::token::Token::parse(TOKEN).unwrap().id()
}

fn event(v: Value) -> Event {
    Event::from_json(v, TOKEN, 1732612810.0).unwrap()
}

fn ringing(calling: &str, called: Option<&str>, line: &str) -> Event {
    let mut data = json!({"CallId": "c1", "Calling": calling});
    if let Some(c) = called {
        data["Called"] = json!(c);
        data["Dialed"] = json!(c);
    }
    event(
        json!({"Event": "start_ringing", "Ressource": line, "Service": "sip", "Timestamp": 1732612810000000000u64, "Data": data, "Details": {"Description": "Accueil"}}),
    )
}

fn queue_start() -> Event {
    event(
        json!({"Event": "member-queue-start", "Ressource": "0033972100100", "Service": "queues", "Data": {"Calling": "0033655555555", "QueueMemberUUID": "m1"}, "Details": {"Type": "easyHunting"}}),
    )
}

fn pop(mode: &str) -> Settings {
    Settings::default()
        .merged(&json!({"screen_pop": {"enabled": true, "mode": mode, "url": "https://crm.example/?n=*CALLING*&e=*EVENT*"}}))
        .unwrap()
}

#[test]
fn directions_numbers_and_events_decide_the_pop() {
    let s = pop("silent").screen_pop;
    let incoming = ringing("0033612345678", Some("0033972101010"), "0033972101010");
    let outgoing = ringing("0033972101010", Some("0033612345678"), "0033972101010");
    assert!(pop_matches(&s, &incoming, None));
    assert!(
        !pop_matches(&s, &outgoing, None),
        "incoming only by default"
    );
    assert!(
        pop_matches(&s, &queue_start(), None),
        "queue events always count"
    );
    // As in OVH's demo, a missing Called stands for the line: incoming.
    assert!(pop_matches(
        &s,
        &ringing("0033612345678", None, "0033972101010"),
        None
    ));

    let mut both = s.clone();
    both.directions = vec!["outgoing".into()];
    assert!(pop_matches(&both, &outgoing, None) && !pop_matches(&both, &incoming, None));

    let mut some = s.clone();
    some.numbers = Some(vec!["0033972101011".into(), "0033972100100".into()]);
    assert!(!pop_matches(&some, &incoming, None));
    assert!(pop_matches(&some, &queue_start(), None));

    let mut other_events = s.clone();
    other_events.events = vec!["end_calling".into()];
    assert!(!pop_matches(&other_events, &incoming, None));

    let mut off = s.clone();
    off.enabled = false;
    assert!(!pop_matches(&off, &incoming, None));

    // Issue 8: a URL stored before the 2 KiB cap pops no more.
    let mut huge = s;
    huge.url = format!(
        "https://crm.example/?n=*CALLING*&pad={}",
        "x".repeat(1_900_000)
    );
    assert!(!pop_matches(&huge, &incoming, None));
}

/// A queue call popped once on `member-queue-start`, then again on every agent's ring with the
/// queue's number as the caller.
#[test]
fn a_queue_call_pops_once_on_its_queue_start_or_on_the_agent_ring_if_chosen() {
    let s = pop("silent").screen_pop;
    let via = QueueLink {
        queue: "0033972100100".into(),
        caller: Some("0033655555555".into()),
    };
    let agent_ring = ringing("0033972100100", Some("0033972101010"), "0033972101010");
    assert!(pop_matches(&s, &queue_start(), None));
    assert!(!pop_matches(&s, &agent_ring, Some(&via)), "popped already");
    assert!(pop_matches(&s, &agent_ring, None), "a ring of its own");
    let mut rings_only = s.clone();
    rings_only.events = vec!["start_ringing".into()];
    assert!(pop_matches(&rings_only, &agent_ring, Some(&via)));
    assert!(!pop_matches(&rings_only, &queue_start(), None));

    // On the agent's ring, *CALLING* is the caller, not the queue.
    let w = store::open(&tempfile::tempdir().unwrap().keep().join("t.db"))
        .unwrap()
        .0;
    let mut settings = pop("popup");
    settings.screen_pop.events = vec!["start_ringing".into()];
    let r = on_event(
        w.connection(),
        &token(),
        Some(&settings),
        &enabled(w.connection(), &token()),
        &agent_ring,
        Some(&via),
        5.0,
    )
    .unwrap();
    let message = r.pop.unwrap();
    assert_eq!(
        message.url,
        "https://crm.example/?n=0033655555555&e=start_ringing"
    );
    assert_eq!(message.calling.as_deref(), Some("0033655555555"));
}

#[test]
fn logged_urls_hide_query_values_and_passwords() {
    assert_eq!(
        mask_url("https://user:pw@crm.example/lookup?n=0033612345678&key=s3cr3t#frag"),
        "https://user:***@crm.example/lookup?n=***&key=***"
    );
    assert_eq!(mask_url("http://crm.example/a/b"), "http://crm.example/a/b");
    assert_eq!(mask_url("not a url"), "(not a valid URL)");
}

fn open_db() -> (tempfile::TempDir, store::Writer, store::Readers) {
    let dir = tempfile::tempdir().unwrap();
    let (w, r) = store::open(&dir.path().join("t.db")).unwrap();
    (dir, w, r)
}

fn pending(conn: &Conn) -> Vec<(String, String, Option<String>)> {
    let mut stmt = conn
        .prepare("SELECT kind, url, body FROM outbox WHERE state = 'pending' ORDER BY id")
        .unwrap();
    stmt.query_map((), |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn events_queue_silent_pops_and_chosen_webhooks_in_their_transaction() {
    let (_dir, mut w, _) = open_db();
    let id = token();
    let other = crate::token::Token::parse("ABCDEFAB-CDEF-ABCD-EFAB-CDEFABCDEFAB")
        .unwrap()
        .id();
    let conn = w.connection();
    endpoint(conn, "https://hooks.example/a", "*");
    endpoint(conn, "https://hooks.example/b", "end_calling");

    let silent = pop("silent");
    let e = ringing("0033612345678", Some("0033972101010"), "0033972101010");
    let batch = w.begin().unwrap();
    let r = on_event(
        batch.connection(),
        &id,
        Some(&silent),
        &enabled(batch.connection(), &id),
        &e,
        None,
        5.0,
    )
    .unwrap();
    assert_eq!(r.enqueued, 2, "one pop and one webhook");
    assert!(r.pop.is_none(), "silent pops are the server's");
    // The same event through a second token with the same screen pop is requested once.
    let r2 = on_event(
        batch.connection(),
        &other,
        Some(&silent),
        &enabled(batch.connection(), &other),
        &e,
        None,
        5.0,
    )
    .unwrap();
    assert_eq!(r2.enqueued, 0);
    batch.commit().unwrap();

    let rows = pending(w.connection());
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].0, "pop");
    assert_eq!(
        rows[0].1,
        "https://crm.example/?n=0033612345678&e=start_ringing"
    );
    assert_eq!(rows[1].0, "webhook");
    let body: Value = serde_json::from_str(rows[1].2.as_deref().unwrap()).unwrap();
    assert_eq!(body["type"], "start_ringing");
    assert_eq!(body["data"]["calling"], "0033612345678");
    assert_eq!(body["data"]["description"], "Accueil");
    assert!(
        !rows[1].2.as_deref().unwrap().contains(TOKEN),
        "never the token"
    );

    // A rolled-back transaction leaves no delivery behind.
    let batch = w.begin().unwrap();
    let e2 = ringing("0033698765432", Some("0033972101010"), "0033972101010");
    assert_eq!(
        on_event(
            batch.connection(),
            &id,
            Some(&silent),
            &enabled(batch.connection(), &id),
            &e2,
            None,
            6.0
        )
        .unwrap()
        .enqueued,
        2
    );
    drop(batch);
    assert_eq!(pending(w.connection()).len(), 2);
}

#[test]
fn modal_and_popup_pops_go_to_the_dashboards() {
    let (_dir, w, _) = open_db();
    let e = ringing("0033612345678", Some("0033972101010"), "0033972101010");
    let r = on_event(
        w.connection(),
        &token(),
        Some(&pop("popup")),
        &enabled(w.connection(), &token()),
        &e,
        None,
        5.0,
    )
    .unwrap();
    assert_eq!(r.enqueued, 0);
    let p = r.pop.unwrap();
    assert_eq!(p.mode, PopMode::Popup);
    assert_eq!(
        p.url,
        "https://crm.example/?n=0033612345678&e=start_ringing"
    );
    let v = serde_json::to_value(&p).unwrap();
    assert_eq!(v["mode"], "popup");
    assert_eq!(v["number"], "0033972101010");
    assert_eq!(v["description"], "Accueil");
    assert!(pending(w.connection()).is_empty());
}

#[test]
fn own_pops_are_made_per_user_of_the_token_s_organisation_and_never_silent_or_disabled() {
    use crate::store::users::{self, LoginName, Numbers, Role};
    let (_dir, w, _) = open_db();
    let conn = w.connection();
    let org = users::org_for(conn, &token(), 0.0).unwrap();
    let add = |login: &str, mode: &str| {
        let name = LoginName::parse(login).unwrap();
        let id = users::add(conn, org, &name, "x", Role::Agent, &Numbers::default(), 0.0)
            .unwrap()
            .id;
        let stored = pop(mode).screen_pop;
        let json = serde_json::to_string(&stored).unwrap();
        crate::store::own_pops::set(conn, id, Some(&json)).unwrap();
        id
    };
    let (ann, _sil, dan) = (
        add("ann", "popup"),
        add("sil", "silent"),
        add("dan", "modal"),
    );
    users::set_disabled(conn, dan, Some(1.0)).unwrap();
    let own = own_pops::OwnPops::load(conn).unwrap();
    assert!(own.has(ann) && !own.has(dan));
    let e = ringing("0033612345678", Some("0033972101010"), "0033972101010");
    let made = own.messages(&token(), &e, None);
    assert_eq!(made.len(), 1, "{made:?}");
    assert_eq!(made[0].user, Some(ann));
    assert_eq!(made[0].mode, PopMode::Popup);
    assert_eq!(
        made[0].url,
        "https://crm.example/?n=0033612345678&e=start_ringing"
    );
    // Another token's events are not her organisation's.
    let other = crate::token::Token::parse("9B2D5A10-1C3E-4F5A-8B7C-0D1E2F3A4B5C")
        .unwrap()
        .id();
    assert!(own.messages(&other, &e, None).is_empty());
}

/// An endpoint of the test token choosing one event type (or `*`).
fn endpoint(conn: &Conn, url: &str, event: &str) -> outbox::Endpoint {
    outbox::create_endpoint(conn, &token(), url, "", &[event.into()], "whsec_AAAA", 0.0).unwrap()
}

fn due_row(conn: &Conn, now: f64) -> Due {
    outbox::due(conn, now, 10, "test")
        .unwrap()
        .pop()
        .expect("a due row")
}

#[test]
fn failures_follow_the_schedule_then_give_up() {
    let (_dir, w, _) = open_db();
    let conn = w.connection();
    let id = token();
    let ep = endpoint(conn, "https://h.example/", "*");
    let e = ringing("0033612345678", Some("0033972101010"), "0033972101010");
    on_event(conn, &id, None, &enabled(conn, &id), &e, None, 100.0).unwrap();
    let fail = Outcome::Retry {
        status: Some(500),
        error: "HTTP 500".into(),
    };
    let mut now = 100.0;
    for wait in outbox::RETRY_AFTER_S {
        let d = due_row(conn, now);
        assert_eq!(
            outbox::record(conn, &d, &fail, 1.0, now).unwrap(),
            "pending"
        );
        assert!(
            outbox::due(conn, now + wait - 0.001, 10, "test")
                .unwrap()
                .is_empty(),
            "not before {wait} s"
        );
        now += wait;
    }
    let d = due_row(conn, now);
    assert_eq!(d.attempts, 5);
    assert_eq!(
        outbox::record(conn, &d, &fail, 1.0, now).unwrap(),
        "gave_up"
    );
    assert!(outbox::due(conn, now + 1e6, 10, "test").unwrap().is_empty());
    let (log, _) = outbox::deliveries(
        conn,
        &id,
        &outbox::DeliveryFilter {
            limit: 100,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(log.len(), 6);
    assert_eq!(log[0].outcome, "gave_up");
    assert!(log[1..]
        .iter()
        .all(|l| l.outcome == "retry" && l.status == Some(500)));
    assert!(log.iter().all(|l| l.webhook_id == log[0].webhook_id));
    // Less than a day of failures: the endpoint stays on, and shows since when it fails.
    let ep = outbox::endpoint_by_id(conn, &id, ep.id).unwrap().unwrap();
    assert_eq!((ep.state, ep.failing_since), ("enabled", Some(100.0)));
}

#[test]
fn a_410_or_a_day_of_failures_disables_the_endpoint() {
    let (_dir, w, _) = open_db();
    let conn = w.connection();
    let id = token();
    let a = endpoint(conn, "https://a.example/", "*");
    let e = ringing("0033612345678", Some("0033972101010"), "0033972101010");
    on_event(conn, &id, None, &enabled(conn, &id), &e, None, 10.0).unwrap();
    let d = due_row(conn, 10.0);
    let gone = Outcome::Permanent {
        status: Some(410),
        error: "gone".into(),
    };
    assert_eq!(
        outbox::record(conn, &d, &gone, 1.0, 10.0).unwrap(),
        "failed"
    );
    let a = outbox::endpoint_by_id(conn, &id, a.id).unwrap().unwrap();
    assert_eq!(a.state, "disabled");
    assert!(a.disabled_reason.unwrap().contains("410"));
    assert!(outbox::endpoints(conn, &id, true).unwrap().is_empty());

    let b = endpoint(conn, "https://b.example/", "*");
    let fail = Outcome::Retry {
        status: None,
        error: "refused".into(),
    };
    let mut now = 1000.0;
    for (i, name) in ["start_ringing", "end_ringing"].iter().enumerate() {
        let e = event(
            json!({"Event": name, "Ressource": "0033972101010", "Service": "sip", "Data": {"CallId": format!("c{i}")}}),
        );
        on_event(conn, &id, None, &enabled(conn, &id), &e, None, now).unwrap();
        let d = due_row(conn, now);
        outbox::record(conn, &d, &fail, 1.0, now).unwrap();
        now += outbox::DISABLE_AFTER_S;
    }
    let b = outbox::endpoint_by_id(conn, &id, b.id).unwrap().unwrap();
    assert_eq!(b.state, "disabled");
    assert!(b.disabled_reason.unwrap().contains("more than a day"));
    assert!(
        outbox::due(conn, now + 1e6, 10, "test").unwrap().is_empty(),
        "its pending deliveries stop"
    );
    assert!(outbox::enable_endpoint(conn, &id, b.id).unwrap());
    assert_eq!(
        outbox::endpoint_by_id(conn, &id, b.id)
            .unwrap()
            .unwrap()
            .state,
        "enabled"
    );
}

/// A listener that counts the connections it receives (and answers 200).
async fn counting_listener() -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            c.fetch_add(1, Ordering::SeqCst);
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut buf = [0u8; 4096];
            let _ = sock.read(&mut buf).await;
            let _ = sock
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .await;
        }
    });
    (addr, count)
}

/// A listener that accepts connections and never answers them: how many it accepted, and a
/// signal at each one.
async fn holding_listener() -> (
    std::net::SocketAddr,
    Arc<AtomicUsize>,
    Arc<tokio::sync::Notify>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let accepted = Arc::new(tokio::sync::Notify::new());
    let (c, a) = (count.clone(), accepted.clone());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            c.fetch_add(1, Ordering::SeqCst);
            a.notify_waiters();
            held.push(sock); // never answered
        }
    });
    (addr, count, accepted)
}

struct Rig {
    _dir: tempfile::TempDir,
    ingest: crate::ingest::IngestHandle,
    hooks: Arc<Hooks>,
}

fn rig(allow: Vec<ipnet::IpNet>) -> Rig {
    rig_timing_out_after(allow, std::time::Duration::from_secs(2))
}

fn rig_timing_out_after(allow: Vec<ipnet::IpNet>, timeout: std::time::Duration) -> Rig {
    let (dir, w, r) = open_db();
    rig_on(dir, w, r, allow, timeout, crate::cluster::instance())
}

fn rig_on(
    dir: tempfile::TempDir,
    w: store::Writer,
    r: store::Readers,
    allow: Vec<ipnet::IpNet>,
    timeout: std::time::Duration,
    instance: &str,
) -> Rig {
    let clock = ManualClock::new(1000.0);
    let (ingest, _thread) = crate::ingest::start(
        w,
        Arc::default(),
        crate::hub::Hub::new(8),
        Arc::new(clock.clone()),
        Default::default(),
        Default::default(),
    );
    let hooks = Hooks::new(
        Arc::new(r),
        ingest.clone(),
        Arc::new(clock),
        guard::Guard::new(allow),
        timeout,
    )
    .unwrap()
    .named(instance);
    Rig {
        _dir: dir,
        ingest,
        hooks: Arc::new(hooks),
    }
}

async fn enqueue_pops(rig: &Rig, urls: Vec<String>) {
    rig.ingest
        .write(move |w| {
            for (i, url) in urls.iter().enumerate() {
                outbox::enqueue(
                    w.connection(),
                    &outbox::NewDelivery {
                        token: &token(),
                        kind: Kind::Pop,
                        endpoint: None,
                        url,
                        body: None,
                        event: "start_ringing",
                        dedupe: &format!("t{i}:{url}"),
                    },
                    1000.0,
                )?;
            }
            Ok(())
        })
        .await
        .unwrap();
}

async fn states(rig: &Rig) -> Vec<(String, String, Option<String>)> {
    rig.ingest
        .write(|w| {
            let mut stmt = w
                .connection()
                .prepare("SELECT url, state, last_error FROM outbox ORDER BY id")?;
            let rows = stmt.query_map((), |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn no_blocked_address_gets_a_connection() {
    let (addr, count) = counting_listener().await;
    let rig = rig(Vec::new());
    let port = addr.port();
    let mut urls: Vec<String> = [
        "127.0.0.1",
        "127.1.2.3",
        "0.0.0.0",
        "10.0.0.1",
        "100.64.0.1",
        "169.254.169.254",
        "172.16.0.1",
        "192.168.1.1",
        "192.0.2.1",
        "198.51.100.1",
        "203.0.113.1",
        "224.0.0.1",
        "255.255.255.255",
        "[::1]",
        "[::]",
        "[::ffff:127.0.0.1]",
        "[fe80::1]",
        "[fc00::1]",
        "[fd00::1]",
        "[ff02::1]",
        "[2001:db8::1]",
        "[64:ff9b::7f00:1]",
        "[::ffff:0:7f00:1]",
        "[64:ff9b:1::7f00:1]",
    ]
    .iter()
    .map(|h| format!("http://{h}:{port}/pop?n=1"))
    .collect();
    // Other spellings of 127.0.0.1, which the URL parser turns into the address itself.
    urls.push(format!("http://2130706433:{port}/pop"));
    urls.push(format!("http://0x7f.0.0.1:{port}/pop"));
    // A name that resolves to 127.0.0.1: refused at connection time, by the resolver.
    urls.push(format!("http://localhost:{port}/pop"));
    let n = urls.len();
    enqueue_pops(&rig, urls).await;
    assert_eq!(rig.hooks.run_due().await.unwrap(), n);
    // The log is read by token holders: it says the address is not public, never which
    // address a name resolved to.
    for (url, state, error) in states(&rig).await {
        assert_eq!(state, "failed", "{url}");
        assert_eq!(
            error.as_deref(),
            Some("refused: not a public address"),
            "{url}"
        );
    }
    assert_eq!(
        count.load(Ordering::SeqCst),
        0,
        "no connection reached the listener"
    );
}

#[tokio::test]
async fn an_allowed_range_is_reached_by_name_and_by_address() {
    let (addr, count) = counting_listener().await;
    let rig = rig(vec!["127.0.0.0/8".parse().unwrap()]);
    let port = addr.port();
    enqueue_pops(
        &rig,
        vec![
            format!("http://127.0.0.1:{port}/a"),
            format!("http://localhost:{port}/b"),
        ],
    )
    .await;
    rig.hooks.run_due().await.unwrap();
    let s = states(&rig).await;
    assert!(s.iter().all(|(_, state, _)| state == "delivered"), "{s:?}");
    assert_eq!(count.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_hanging_endpoint_does_not_hold_up_the_next_pop() {
    let (hang_addr, hung, _) = holding_listener().await;
    let (fast, fast_count) = counting_listener().await;
    let rig = rig(vec!["127.0.0.1/32".parse().unwrap()]);
    enqueue_pops(&rig, vec![format!("http://{hang_addr}/slow")]).await;
    let second = async {
        while hung.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        rig.ingest
            .write(move |w| {
                outbox::enqueue(
                    w.connection(),
                    &outbox::NewDelivery {
                        token: &token(),
                        kind: Kind::Pop,
                        endpoint: None,
                        url: &format!("http://{fast}/fast"),
                        body: None,
                        event: "start_ringing",
                        dedupe: "fast",
                    },
                    1000.0,
                )
            })
            .await
            .unwrap();
        // The fast pop is made while the hanging attempt is still in flight: this pass
        // cannot finish before the hanging one times out, yet the fast request arrives first.
        tokio::select! {
            _ = rig.hooks.run_due() => panic!("the pass waits for the hanging attempt"),
            _ = async { while fast_count.load(Ordering::SeqCst) == 0 { tokio::task::yield_now().await } } => {}
        }
    };
    let (first, ()) = tokio::join!(rig.hooks.run_due(), second);
    assert_eq!(first.unwrap(), 1);
    let s = states(&rig).await;
    assert_eq!(
        s[0].1, "pending",
        "the hanging attempt timed out and waits for its retry"
    );
    assert!(s[0].2.as_deref().unwrap().contains("no answer within"));
}

/// Issue 8: a flood of test sends, each replacing the endpoint's previous test while that
/// one's request still hung, put a request (and a resolver thread) in flight per send: the
/// memory reached a gigabyte. However often rows are queued and replaced, at most `ATTEMPTS`
/// requests are in flight; the rows beyond wait in the outbox.
#[tokio::test]
async fn requests_in_flight_are_capped_even_when_their_rows_are_replaced() {
    use super::worker::ATTEMPTS;
    let (addr, accepted, arrived) = holding_listener().await;
    let rig = rig_timing_out_after(
        vec!["127.0.0.1/32".parse().unwrap()],
        std::time::Duration::from_secs(600),
    );
    let endpoints: Vec<i64> = rig
        .ingest
        .write(move |w| {
            (0..ATTEMPTS)
                .map(|i| {
                    let url = format!("http://{addr}/hook/{i}");
                    outbox::create_endpoint(
                        w.connection(),
                        &token(),
                        &url,
                        "",
                        &["*".into()],
                        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                        1000.0,
                    )
                    .map(|e| e.id)
                })
                .collect()
        })
        .await
        .unwrap();
    let send_tests = || async {
        let ids = endpoints.clone();
        rig.ingest
            .write(move |w| {
                for id in ids {
                    enqueue_test(w.connection(), &token(), id, 1000.0)?;
                }
                Ok(())
            })
            .await
            .unwrap();
        rig.hooks.nudge();
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(rig.hooks.clone().run(stopped));
    send_tests().await;
    tokio::time::timeout(std::time::Duration::from_secs(20), async {
        loop {
            let next = arrived.notified();
            tokio::pin!(next);
            next.as_mut().enable();
            if accepted.load(Ordering::SeqCst) >= ATTEMPTS {
                return;
            }
            next.await;
        }
    })
    .await
    .expect("the worker never had ATTEMPTS requests in flight");
    // Every request in flight hangs, and their rows are replaced: the new rows are due, but
    // no slot frees, so none of them may start.
    for _ in 0..3 {
        send_tests().await;
    }
    let pending = states(&rig).await;
    assert_eq!(pending.len(), ATTEMPTS, "one test per endpoint");
    assert!(pending.iter().all(|(_, state, _)| state == "pending"));
    stop.send(true).unwrap();
    worker.await.unwrap();
    assert_eq!(accepted.load(Ordering::SeqCst), ATTEMPTS);
}

/// A silent pop or webhook to a name on the LAN was saved ("Settings saved") and then refused
/// on every call: it is refused when saved, saying how the operator allows it, and without
/// saying which addresses the name has.
#[test]
fn a_name_that_resolves_only_to_private_addresses_is_refused_when_saved() {
    let addrs = |list: &[&str]| -> Vec<std::net::SocketAddr> {
        list.iter()
            .map(|a| std::net::SocketAddr::new(a.parse().unwrap(), 0))
            .collect()
    };
    let guard = guard::Guard::default();
    let err =
        judge_resolved(&guard, "crm.internal", addrs(&["10.0.3.7", "127.0.0.1"])).unwrap_err();
    assert!(
        err.contains("crm.internal") && err.contains("--webhook-allow"),
        "{err}"
    );
    assert!(
        !err.contains("10.0.3.7") && !err.contains("127.0.0.1"),
        "{err}"
    );
    assert!(judge_resolved(&guard, "crm.example", addrs(&["10.0.3.7", "93.184.216.34"])).is_ok());
    let allowed = guard::Guard::new(vec!["10.0.0.0/8".parse().unwrap()]);
    assert!(judge_resolved(&allowed, "crm.internal", addrs(&["10.0.3.7"])).is_ok());
}

/// The token's enabled webhooks, as the ingest reads them once per poll.
fn enabled(conn: &crate::store::db::Conn, token: &TokenId) -> Vec<outbox::Endpoint> {
    outbox::endpoints(conn, token, true).unwrap()
}

/// Two instances' delivery workers on one PostgreSQL outbox, looking at once, attempt each
/// delivery once between them (their claims skip each other's rows). Skipped without
/// PostgreSQL (failing under CI).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_attempt_each_delivery_once() {
    let Some(url) = crate::test_support::postgres_schema("hooks_claims") else {
        return;
    };
    let (addr, count) = counting_listener().await;
    let allow: Vec<ipnet::IpNet> = vec!["127.0.0.0/8".parse().unwrap()];
    let timeout = std::time::Duration::from_secs(5);
    let open = || {
        let (w, r) = store::open(std::path::Path::new(url.as_secret_str())).unwrap();
        (tempfile::tempdir().unwrap(), w, r)
    };
    let (dir, w, r) = open();
    let a = rig_on(dir, w, r, allow.clone(), timeout, "instance-a");
    let (dir, w, r) = open();
    let b = rig_on(dir, w, r, allow, timeout, "instance-b");
    const N: usize = 120;
    let urls: Vec<String> = (0..N)
        .map(|i| format!("http://127.0.0.1:{}/p{i}", addr.port()))
        .collect();
    enqueue_pops(&a, urls).await;
    let (done_a, done_b) = tokio::join!(a.hooks.run_due(), b.hooks.run_due());
    let (done_a, done_b) = (done_a.unwrap(), done_b.unwrap());
    assert_eq!(done_a + done_b, N, "attempted {done_a} + {done_b}");
    assert_eq!(count.load(Ordering::SeqCst), N, "requests sent");
    let s = states(&a).await;
    assert!(s.iter().all(|(_, state, _)| state == "delivered"), "{s:?}");
    let claimed: i64 = a
        .ingest
        .write(|w| {
            Ok(w.connection().query_row(
                "SELECT COUNT(*) FROM outbox WHERE claimed_by IS NOT NULL",
                (),
                |r| r.get(0),
            )?)
        })
        .await
        .unwrap();
    assert_eq!(claimed, 0, "claims left after the attempts' records");
}
