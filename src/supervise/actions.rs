//! What people do through OVH's REST API (issue 11), each checked against the discovered
//! account before it is sent: an agent's status (available, on a break with a reason, logged
//! out) and the queues they are in, click-to-call from one of the account's lines, actions on
//! a live queue call (listen, whisper, transfer, hang up), and the account's event token,
//! created or rotated. The web layer checks who may do what and writes the audit log; here
//! the request is made and the board brought up to date at once.

use super::board::Board;
use super::directory::{Directory, Service};
use super::OrgSupervisor;
use crate::normalise::phone;
use crate::ovh_api::client::seg;
use crate::ovh_api::models::{Agent, AgentChange, Click2Call, LiveCall, Task};
use crate::ovh_api::OvhError;
use serde::Serialize;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("the OVH account is not connected yet (its key is waiting for validation, or it is being discovered)")]
    NotReady,
    #[error("{0}")]
    NotFound(String),
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error(transparent)]
    Ovh(#[from] OvhError),
}

fn invalid(field: &'static str, message: impl Into<String>) -> ActionError {
    ActionError::Invalid {
        field,
        message: message.into(),
    }
}

/// Agent statuses OVH knows.
pub const AGENT_STATUSES: &[&str] = &["available", "onBreak", "loggedOut"];

/// An action on a live queue call.
#[derive(Clone, Debug, PartialEq)]
pub enum CallAction {
    /// Listen in from `number` (a line of the account).
    Eavesdrop {
        number: String,
    },
    /// Speak to the agent only (`all`: to both parties) from `number`.
    Whisper {
        number: String,
        all: bool,
    },
    /// Send the call to `number`.
    Transfer {
        number: String,
    },
    Hangup,
}

impl CallAction {
    pub fn name(&self) -> &'static str {
        match self {
            CallAction::Eavesdrop { .. } => "eavesdrop",
            CallAction::Whisper { .. } => "whisper",
            CallAction::Transfer { .. } => "transfer",
            CallAction::Hangup => "hangup",
        }
    }
}

/// A live call of a queue, with where it is.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QueueCall {
    pub service: String,
    /// The queue's id in its service (the call's `queue` is the queue's name).
    pub queue_id: i64,
    #[serde(flatten)]
    pub call: LiveCall,
}

/// A phone number as OVH writes it, or a refusal naming `field`.
pub fn number(field: &'static str, raw: &str) -> Result<String, ActionError> {
    let n = phone::ovh_form(raw);
    if n.is_empty()
        || n.len() > crate::limits::NUMBER_BYTES
        || !n.chars().all(|c| c.is_ascii_digit() || c == '+')
    {
        return Err(invalid(field, "expected a phone number"));
    }
    Ok(n)
}

impl OrgSupervisor {
    fn directory(&self) -> Result<Directory, ActionError> {
        self.known
            .read()
            .directory
            .clone()
            .ok_or(ActionError::NotReady)
    }

    fn service_of(dir: &Directory, number: &str) -> Result<Service, ActionError> {
        dir.service(number).cloned().ok_or_else(|| {
            ActionError::NotFound(format!("no queue service {number} in the OVH account"))
        })
    }

    /// The agent `id` of the queue service `service`, if the account has it.
    pub fn agent(&self, service: &str, id: i64) -> Option<Agent> {
        let k = self.known.read();
        k.directory
            .as_ref()?
            .service(service)?
            .agents
            .iter()
            .find(|a| a.agent.agent_id == id)
            .map(|a| a.agent.clone())
    }

    /// Replaces one agent in the directory (and the board) with what OVH now says.
    async fn reread_agent(&self, s: &Service, id: i64) -> Result<(), ActionError> {
        let hunting = format!("{}/hunting", s.path());
        let agent: Agent = self.client.get(&format!("{hunting}/agent/{id}")).await?;
        let queues: Vec<i64> = self
            .client
            .get(&format!("{hunting}/agent/{id}/queue"))
            .await?;
        let live = self
            .client
            .get(&format!("{hunting}/agent/{id}/liveStatus"))
            .await
            .ok();
        let mut k = self.known.write();
        if let Some(live) = live {
            k.live.agents.insert((s.number.clone(), id), live);
        }
        if let Some(d) = k.directory.as_mut() {
            if let Some(a) = d
                .services
                .iter_mut()
                .find(|x| x.number == s.number)
                .and_then(|x| x.agents.iter_mut().find(|a| a.agent.agent_id == id))
            {
                a.agent = agent;
                a.queues = queues;
            }
        }
        if let Some(d) = k.directory.clone() {
            k.board = Board::build(&d, &k.live);
        }
        Ok(())
    }

    /// Logs an agent in (`available`), out (`loggedOut`), or puts them on a break with one of
    /// the service's reasons.
    pub async fn set_agent_status(
        &self,
        service: &str,
        id: i64,
        status: &str,
        reason: Option<i64>,
    ) -> Result<(), ActionError> {
        let dir = self.directory()?;
        let s = Self::service_of(&dir, service)?;
        if !s.agents.iter().any(|a| a.agent.agent_id == id) {
            return Err(ActionError::NotFound(format!("no agent {id} in {service}")));
        }
        if !AGENT_STATUSES.contains(&status) {
            return Err(invalid(
                "status",
                format!("expected one of {}", AGENT_STATUSES.join(", ")),
            ));
        }
        if let Some(r) = reason {
            if status != "onBreak" {
                return Err(invalid("reason", "a break reason goes with status onBreak"));
            }
            if !s.breaks.iter().any(|b| b.id == r) {
                return Err(invalid(
                    "reason",
                    format!("no break reason {r} in {service}"),
                ));
            }
        }
        let change = AgentChange {
            status: Some(status.to_string()),
            break_status: reason,
        };
        let path = format!("{}/hunting/agent/{id}", s.path());
        self.client.put::<serde_json::Value>(&path, &change).await?;
        self.reread_agent(&s, id).await
    }

    /// Adds an agent to a queue of its service (`join`), or takes it out.
    pub async fn set_agent_queue(
        &self,
        service: &str,
        id: i64,
        queue: i64,
        join: bool,
    ) -> Result<(), ActionError> {
        let dir = self.directory()?;
        let s = Self::service_of(&dir, service)?;
        let Some(agent) = s.agents.iter().find(|a| a.agent.agent_id == id) else {
            return Err(ActionError::NotFound(format!("no agent {id} in {service}")));
        };
        if !s.queues.iter().any(|q| q.queue_id == queue) {
            return Err(ActionError::NotFound(format!(
                "no queue {queue} in {service}"
            )));
        }
        let path = format!("{}/hunting/agent/{id}/queue", s.path());
        match (join, agent.queues.contains(&queue)) {
            (true, false) => {
                let position = agent.queues.len() as i64 + 1;
                self.client
                    .post::<serde_json::Value>(
                        &path,
                        &json!({"queueId": queue, "position": position}),
                    )
                    .await?;
            }
            (false, true) => {
                self.client
                    .delete::<serde_json::Value>(&format!("{path}/{queue}"))
                    .await?;
            }
            // Already so: nothing to ask OVH.
            _ => {}
        }
        self.reread_agent(&s, id).await
    }

    /// Calls `called` from the account's line `line`: OVH rings the line, then dials.
    pub async fn click2call(&self, line: &str, called: &str) -> Result<(), ActionError> {
        let dir = self.directory()?;
        let l = dir
            .line(line)
            .ok_or_else(|| ActionError::NotFound(format!("no line {line} in the OVH account")))?;
        let called = number("number", called)?;
        let path = format!(
            "/telephony/{}/line/{}/click2Call",
            seg(&l.billing_account),
            seg(&l.number)
        );
        let body = Click2Call {
            called_number: called,
            intercom: None,
        };
        self.client.post::<serde_json::Value>(&path, &body).await?;
        Ok(())
    }

    /// Every queue's live calls, as OVH lists them.
    pub async fn live_calls(&self) -> Result<Vec<QueueCall>, ActionError> {
        let dir = self.directory()?;
        let mut calls = Vec::new();
        for s in &dir.services {
            for q in &s.queues {
                let base = format!("{}/hunting/queue/{}/liveCalls", s.path(), q.queue_id);
                let ids: Vec<i64> = self.client.get(&base).await?;
                for id in ids.into_iter().take(200) {
                    match self.client.get::<LiveCall>(&format!("{base}/{id}")).await {
                        Ok(call) => calls.push(QueueCall {
                            service: s.number.clone(),
                            queue_id: q.queue_id,
                            call,
                        }),
                        // Ended meanwhile.
                        Err(e) if e.kind() == Some(crate::ovh_api::error::Kind::NotFound) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
            }
        }
        Ok(calls)
    }

    /// Acts on a live queue call; OVH's task, with its status.
    pub async fn call_action(
        &self,
        service: &str,
        queue: i64,
        call: i64,
        action: &CallAction,
    ) -> Result<Task, ActionError> {
        let dir = self.directory()?;
        let s = Self::service_of(&dir, service)?;
        if !s.queues.iter().any(|q| q.queue_id == queue) {
            return Err(ActionError::NotFound(format!(
                "no queue {queue} in {service}"
            )));
        }
        // Listening and whispering ring a phone of the account: never an outside number.
        let own_line = |n: &str| -> Result<String, ActionError> {
            let n = number("number", n)?;
            if dir.line(&n).is_none() {
                return Err(invalid(
                    "number",
                    "listen or whisper from a line of the OVH account",
                ));
            }
            Ok(n)
        };
        let body = match action {
            CallAction::Eavesdrop { number: n } => json!({"number": own_line(n)?}),
            CallAction::Whisper { number: n, all } => json!({
                "number": own_line(n)?,
                "whisperingMode": if *all { "Whisper to all participants" } else { "Whisper to agent only" },
            }),
            CallAction::Transfer { number: n } => json!({"number": number("number", n)?}),
            CallAction::Hangup => json!({}),
        };
        let path = format!(
            "{}/hunting/queue/{queue}/liveCalls/{call}/{}",
            s.path(),
            action.name()
        );
        Ok(self.client.post::<Task>(&path, &body).await?)
    }

    /// The event token of each billing account: the one OVH has, or a new one (`unlimited`);
    /// with `rotate`, the one OVH has is revoked and a new one made. Each new or current
    /// token, with the one it replaced.
    pub async fn event_tokens(
        &self,
        rotate: bool,
    ) -> Result<Vec<(String, Option<String>)>, ActionError> {
        let dir = self.directory()?;
        let mut tokens = Vec::new();
        for ba in &dir.billing_accounts {
            let path = format!("/telephony/{}/eventToken", seg(ba));
            let current = match self.client.get::<serde_json::Value>(&path).await {
                Ok(v) => v["token"].as_str().map(str::to_string),
                Err(e) if e.kind() == Some(crate::ovh_api::error::Kind::NotFound) => None,
                Err(e) => return Err(e.into()),
            };
            match (&current, rotate) {
                (Some(t), false) => {
                    tokens.push((t.clone(), None));
                    continue;
                }
                (Some(_), true) => {
                    self.client.delete::<serde_json::Value>(&path).await?;
                }
                (None, _) => {}
            }
            let made: String = self
                .client
                .post(&path, &json!({"expiration": "unlimited"}))
                .await?;
            tokens.push((made, current));
        }
        Ok(tokens)
    }
}
