//! OVH saying a session is gone — a `404`, or `Timeout, please reconnect` as text or as a
//! JSON string, on API v1 and v2. The service must believe the first such answer and start a
//! new session at once (never come back with the dead one), and lose nothing: the fake hands
//! what the dead session still owed to the token's next one (see `Fault::SessionNotFound`).

use crate::harness::*;
use ovh_cti::feed::Api;
use ovh_cti::simulate::Fault;

async fn rejected(fault: Fault, form: &str, api: Api, seed: u64) {
    let name = format!("session rejected ({form}, {})", api.as_str());
    let fake = Fake::start(seed).await;
    let service = InProcess::start(
        &fake,
        Setup {
            api,
            ..Setup::default()
        },
    )
    .await;
    fake.flowing(30).await;
    let sessions = |fake: &Fake| -> u32 {
        let f = &fake.faults;
        fake.token_refs()
            .iter()
            .map(|t| f.sessions_created(t))
            .sum()
    };
    let before = sessions(&fake);
    fake.faults.inject_times(fault, 1);
    let recovered = fake.recovered().await;
    assert_eq!(
        fake.faults.stale_polls(),
        0,
        "{name}: the service came back with the session OVH said was gone"
    );
    assert_eq!(
        sessions(&fake),
        before + 1,
        "{name}: one new session, for the token refused"
    );
    let api = service.api();
    conclude(&name, &fake, &service.db, &api, recovered, "").await;
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_session_rejected_with_a_404() {
    rejected(Fault::SessionNotFound, "404", Api::V1, 201).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_session_rejected_with_reconnect_text() {
    rejected(Fault::ReconnectText, "text", Api::V1, 202).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_session_rejected_with_reconnect_json() {
    rejected(Fault::ReconnectJson, "JSON", Api::V1, 203).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_session_rejected_with_a_404() {
    rejected(Fault::SessionNotFound, "404", Api::V2, 204).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_session_rejected_with_reconnect_text() {
    rejected(Fault::ReconnectText, "text", Api::V2, 205).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_session_rejected_with_reconnect_json() {
    rejected(Fault::ReconnectJson, "JSON", Api::V2, 206).await;
}
