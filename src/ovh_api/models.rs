//! The objects of OVH's telephony API that the service reads and sends, typed by hand from
//! OVH's schema (`shared/ovh-rest.md` §4–7). Fields OVH adds later are ignored; a field OVH
//! may leave out or send as `null` is an `Option`; enums OVH may extend are strings.

use serde::{Deserialize, Serialize};

/// An access rule of a consumer key: a method and a path pattern (`*`: any suffix).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRule {
    pub method: String,
    pub path: String,
}

impl AccessRule {
    pub fn new(method: &str, path: &str) -> AccessRule {
        AccessRule {
            method: method.into(),
            path: path.into(),
        }
    }
}

/// `POST /auth/credential`'s answer: the new consumer key and where its owner validates it.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CredentialRequest {
    pub consumer_key: String,
    pub validation_url: String,
    pub state: String,
}

/// `GET /auth/currentCredential`: the consumer key in use.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Credential {
    pub credential_id: i64,
    #[serde(default)]
    pub application_id: Option<i64>,
    #[serde(default)]
    pub creation: Option<String>,
    #[serde(default)]
    pub expiration: Option<String>,
    #[serde(default)]
    pub last_use: Option<String>,
    /// `pendingValidation`, `validated`, `refused` or `expired`.
    pub status: String,
    #[serde(default)]
    pub rules: Vec<AccessRule>,
}

/// `GET /telephony/{ba}`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BillingAccount {
    pub billing_account: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
}

/// `GET /telephony/{ba}/line/{sn}`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Line {
    pub service_name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// How many calls the line may carry at once: the overview's "allowed" column.
    #[serde(default)]
    pub simultaneous_lines: Option<i64>,
}

/// `GET /telephony/{ba}/easyHunting/{sn}` or `…/ovhPabx/{sn}`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HuntingService {
    pub service_name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub feature_type: Option<String>,
    #[serde(default, rename = "isCCS")]
    pub is_ccs: Option<bool>,
}

/// `GET HUNT/hunting/queue/{queueId}`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Queue {
    pub queue_id: i64,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub strategy: Option<String>,
}

/// `GET HUNT/hunting/agent/{agentId}`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Agent {
    pub agent_id: i64,
    /// The number OVH rings for this agent (a line of the account, or an outside number).
    pub number: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Configured: `available`, `loggedOut` or `onBreak`.
    pub status: String,
    /// The custom status (break reason) id, when on a break.
    #[serde(default)]
    pub break_status: Option<i64>,
}

/// `PUT HUNT/hunting/agent/{agentId}`: only what changes.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentChange {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub break_status: Option<i64>,
}

/// `GET HUNT/hunting/agent/{agentId}/liveStatus`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentLiveStatus {
    /// `waiting`, `receiving`, `inAQueueCall`, `onBreak` or `loggedOut`.
    pub status: String,
    #[serde(default)]
    pub last_status_change: Option<String>,
    #[serde(default)]
    pub answered_calls: Option<i64>,
    /// Talk time today, seconds.
    #[serde(default)]
    pub total_call_duration: Option<i64>,
}

/// `GET HUNT/hunting/customStatus/{id}`: a break reason.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomStatus {
    pub id: i64,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub color: Option<String>,
}

/// `GET HUNT/hunting/queue/{queueId}/liveStatistics`: OVH's own counters since `last_reset`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueLiveStatistics {
    pub calls_total: i64,
    pub calls_answered: i64,
    pub calls_lost: i64,
    #[serde(default)]
    pub total_call_duration: Option<i64>,
    #[serde(default)]
    pub total_waiting_duration: Option<i64>,
    #[serde(default)]
    pub last_reset: Option<String>,
}

/// `GET HUNT/hunting/queue/{queueId}/liveCalls/{id}`: a caller in the queue, waiting or
/// answered.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveCall {
    pub id: i64,
    /// `Waiting` or `Answered`.
    pub state: String,
    #[serde(default)]
    pub begin: Option<String>,
    #[serde(default)]
    pub answered: Option<String>,
    #[serde(default)]
    pub caller_id_number: Option<String>,
    #[serde(default)]
    pub caller_id_name: Option<String>,
    #[serde(default)]
    pub agent: Option<String>,
    #[serde(default)]
    pub queue: Option<String>,
    #[serde(default)]
    pub on_hold: Option<bool>,
}

/// What OVH answers to a live-call action: a task, done or not.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    pub task_id: i64,
    #[serde(default)]
    pub action: Option<String>,
    /// `todo`, `doing`, `done`, `error` or `pause`.
    pub status: String,
    #[serde(default)]
    pub message: Option<String>,
}

/// `POST /telephony/{ba}/line/{sn}/click2Call`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Click2Call {
    pub called_number: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intercom: Option<bool>,
}
