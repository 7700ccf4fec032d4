//! Discovery (issue 11): what an OVH account holds, read through the REST API — billing
//! accounts, lines with the calls each may carry, the call-queue services (easyHunting and
//! ovhPabx), their queues, their agents with the queues each is in, and the break reasons.
//!
//! OVH's collections list ids and each object is one more request, so a discovery costs
//! tens of requests: it runs at start, every few minutes and on demand, queue services
//! first (the agent board needs them), lines last. One service OVH fails to read is left
//! out and named in `problems`; the rest of the directory is still used.

use crate::ovh_api::client::seg;
use crate::ovh_api::models::{Agent, CustomStatus, HuntingService, Line, Queue};
use crate::ovh_api::{Client, OvhError};
use serde::Serialize;

/// A call-queue service: an easyHunting or ovhPabx ("cloudHunting") number.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Service {
    pub billing_account: String,
    /// `easyHunting` or `ovhPabx`: the family of its routes.
    pub family: &'static str,
    /// Its number (OVH's service name), as the event feed names the queue.
    pub number: String,
    pub description: Option<String>,
    pub queues: Vec<Queue>,
    pub agents: Vec<DirAgent>,
    pub breaks: Vec<CustomStatus>,
}

impl Service {
    /// The path of its routes: `/telephony/{ba}/{family}/{sn}`.
    pub fn path(&self) -> String {
        format!(
            "/telephony/{}/{}/{}",
            seg(&self.billing_account),
            self.family,
            seg(&self.number)
        )
    }
}

/// An agent of a queue service, with the ids of the queues it is in.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DirAgent {
    pub agent: Agent,
    pub queues: Vec<i64>,
}

/// A line and the calls it may carry at once.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DirLine {
    pub billing_account: String,
    pub number: String,
    pub description: Option<String>,
    pub simultaneous: Option<i64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Directory {
    pub billing_accounts: Vec<String>,
    pub services: Vec<Service>,
    pub lines: Vec<DirLine>,
    /// What could not be read, in words (never a key).
    pub problems: Vec<String>,
}

/// The most of each list read: an account with more is read in part, and says so.
const MAX_LIST: usize = 500;

fn capped<T>(mut items: Vec<T>, what: &str, problems: &mut Vec<String>) -> Vec<T> {
    if items.len() > MAX_LIST {
        problems.push(format!(
            "{} {what}: only the first {MAX_LIST} are read",
            items.len()
        ));
        items.truncate(MAX_LIST);
    }
    items
}

impl Directory {
    /// Reads the account. Fails only when its list of billing accounts cannot be read.
    pub async fn discover(client: &Client) -> Result<Directory, OvhError> {
        let mut dir = Directory::default();
        let accounts: Vec<String> = client.get("/telephony").await?;
        dir.billing_accounts = capped(accounts, "billing accounts", &mut dir.problems);
        for ba in dir.billing_accounts.clone() {
            for family in ["easyHunting", "ovhPabx"] {
                let path = format!("/telephony/{}/{family}", seg(&ba));
                let names: Vec<String> = match client.get(&path).await {
                    Ok(n) => n,
                    Err(e) => {
                        dir.problems.push(format!("{ba} {family}: {e}"));
                        continue;
                    }
                };
                for sn in capped(names, "queue services", &mut dir.problems) {
                    match service(client, &ba, family, &sn, &mut dir.problems).await {
                        Ok(s) => dir.services.push(s),
                        Err(e) => dir.problems.push(format!("{sn}: {e}")),
                    }
                }
            }
        }
        for ba in dir.billing_accounts.clone() {
            let path = format!("/telephony/{}/line", seg(&ba));
            let names: Vec<String> = match client.get(&path).await {
                Ok(n) => n,
                Err(e) => {
                    dir.problems.push(format!("{ba} lines: {e}"));
                    continue;
                }
            };
            for sn in capped(names, "lines", &mut dir.problems) {
                match client.get::<Line>(&format!("{path}/{}", seg(&sn))).await {
                    Ok(l) => dir.lines.push(DirLine {
                        billing_account: ba.clone(),
                        number: l.service_name,
                        description: l.description,
                        simultaneous: l.simultaneous_lines,
                    }),
                    Err(e) => dir.problems.push(format!("{sn}: {e}")),
                }
            }
        }
        Ok(dir)
    }

    /// The queue service with this number.
    pub fn service(&self, number: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.number == number)
    }

    /// The line with this number.
    pub fn line(&self, number: &str) -> Option<&DirLine> {
        self.lines.iter().find(|l| l.number == number)
    }
}

async fn service(
    client: &Client,
    ba: &str,
    family: &'static str,
    sn: &str,
    problems: &mut Vec<String>,
) -> Result<Service, OvhError> {
    let base = format!("/telephony/{}/{family}/{}", seg(ba), seg(sn));
    let about: HuntingService = client.get(&base).await?;
    let hunting = format!("{base}/hunting");
    let queue_ids: Vec<i64> = client.get(&format!("{hunting}/queue")).await?;
    let mut queues = Vec::new();
    for q in capped(queue_ids, "queues", problems) {
        queues.push(client.get::<Queue>(&format!("{hunting}/queue/{q}")).await?);
    }
    let agent_ids: Vec<i64> = client.get(&format!("{hunting}/agent")).await?;
    let mut agents = Vec::new();
    for a in capped(agent_ids, "agents", problems) {
        let agent: Agent = client.get(&format!("{hunting}/agent/{a}")).await?;
        let queues: Vec<i64> = client.get(&format!("{hunting}/agent/{a}/queue")).await?;
        agents.push(DirAgent { agent, queues });
    }
    let break_ids: Vec<i64> = client.get(&format!("{hunting}/customStatus")).await?;
    let mut breaks = Vec::new();
    for b in capped(break_ids, "break reasons", problems) {
        breaks.push(
            client
                .get::<CustomStatus>(&format!("{hunting}/customStatus/{b}"))
                .await?,
        );
    }
    Ok(Service {
        billing_account: ba.to_string(),
        family,
        number: sn.to_string(),
        description: about.description,
        queues,
        agents,
        breaks,
    })
}
