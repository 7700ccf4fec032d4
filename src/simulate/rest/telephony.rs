//! `/telephony` and the billing account's own routes: the account, its lines, numbers and
//! services, the two hunting services (whose `…/hunting` subtree is [`super::hunting`]), the
//! billing account's event token, click-to-call and tasks.
//!
//! The objects are built from the simulated account each time, in OVH's models and field
//! names; values OVH has and the simulation does not model (prices, offers) are plausible
//! constants.

use serde_json::{json, Value};

use super::{hunting, json_object, only_keys, phone, ApiError, Ctx};
use crate::simulate::account::{uuid_from, SimAccount, SimLine, SimQueue};

/// `TokenExpirationEnum`, and how long each lasts (`None`: unlimited).
const EXPIRATIONS: [(&str, Option<i64>); 5] = [
    ("5 minutes", Some(300)),
    ("1 hour", Some(3_600)),
    ("1 day", Some(86_400)),
    ("30 days", Some(30 * 86_400)),
    ("unlimited", None),
];

fn price(value: f64) -> Value {
    json!({"currencyCode": "EUR", "text": format!("{value:.2} €"), "value": value})
}

/// The offer a line is sold with.
fn offer(line: &SimLine) -> (&'static str, &'static str) {
    if line.service == "mgcp" {
        ("voip.line.mgcp.pro", "Ligne MGCP Pro")
    } else {
        ("voip.line.sip.pro", "Ligne SIP Pro")
    }
}

fn public_offer(name: &str, description: &str) -> Value {
    json!({"name": name, "description": description, "price": null})
}

fn billing_account(account: &SimAccount, ba: &str) -> Value {
    json!({
        "billingAccount": ba,
        "description": format!("Centre d'appels simulé {}", account.billing_account),
        "status": "enabled",
        "trusted": true,
        "hasSpecialNumbers": false,
        "hiddenExternalNumber": false,
        "overrideDisplayedNumber": false,
        "allowedOutplan": price(50.0),
        "currentOutplan": price(0.0),
        "creditThreshold": price(50.0),
        "securityDeposit": price(0.0),
        "iam": {
            "id": format!("sim-{}", account.billing_account),
            "urn": format!("urn:v1:eu:resource:telephony:{ba}"),
        },
    })
}

fn line_model(line: &SimLine) -> Value {
    let (name, description) = offer(line);
    json!({
        "serviceName": line.number,
        "description": line.description,
        "serviceType": "line",
        "simultaneousLines": line.simultaneous,
        "deviceSlot": 1,
        "infrastructure": "ovh",
        "isAttachedToOtherLinesPhone": false,
        "canChangePassword": true,
        "getPublicOffer": public_offer(name, description),
        "offers": [name],
        "notifications": null,
    })
}

fn feature(queue: &SimQueue) -> &'static str {
    queue.kind
}

fn number_model(queue: &SimQueue) -> Value {
    json!({
        "serviceName": queue.number,
        "description": queue.description,
        "featureType": feature(queue),
        "serviceType": "alias",
        "partOfPool": null,
    })
}

fn service_model(account: &SimAccount, sn: &str) -> Option<Value> {
    let common = |number: &str,
                  description: &str,
                  feature: &str,
                  service_type: &str,
                  simultaneous: u32,
                  offer: (&str, &str)| {
        json!({
            "serviceName": number,
            "description": description,
            "featureType": feature,
            "serviceType": service_type,
            "simultaneousLines": simultaneous,
            "country": "fr",
            "countryCode": "33",
            "offers": [offer.0],
            "getPublicOffer": public_offer(offer.0, offer.1),
            "properties": [],
            "hasFaxCapabilities": false,
            "associatedDeviceMac": null,
            "currentOutplan": price(0.0),
            "rio": format!("10P{}", &number[number.len().saturating_sub(9)..]),
        })
    };
    if let Some(l) = account.lines.iter().find(|l| l.number == sn) {
        return Some(common(
            &l.number,
            &l.description,
            l.service,
            "line",
            l.simultaneous,
            offer(l),
        ));
    }
    let q = account.queues.iter().find(|q| q.number == sn)?;
    Some(common(
        &q.number,
        &q.description,
        feature(q),
        "alias",
        0,
        ("voip.alias.ccs", "Numéro file d'appels"),
    ))
}

/// The hunting service objects: `telephony.EasyHunting` and `telephony.OvhPabx`.
fn hunting_service(queue: &SimQueue) -> Value {
    let mut v = json!({
        "serviceName": queue.number,
        "description": queue.description,
        "featureType": feature(queue),
        "serviceType": "alias",
        "isCCS": true,
    });
    if queue.kind == "easyHunting" {
        let extra = json!({
            "strategy": "ringAll",
            "maxWaitTime": queue.max_wait_s,
            "queueSize": 10,
            "anonymousRejection": false,
            "showCallerNumber": "caller",
            "statusIvrEnabled": false,
            "toneOnOpening": null,
            "toneOnHold": null,
            "toneOnClosing": null,
            "voicemail": null,
        });
        if let (Some(v), Value::Object(extra)) = (v.as_object_mut(), extra) {
            v.extend(extra);
        }
    }
    v
}

/// The kind of queue each route family serves.
fn family_kind(family: &str) -> &'static str {
    if family == "easyHunting" {
        "easyHunting"
    } else {
        "cloudHunting"
    }
}

/// The queue behind `…/{family}/{sn}`.
fn hunting_queue(account: &SimAccount, family: &str, sn: &str) -> Result<usize, ApiError> {
    account
        .queues
        .iter()
        .position(|q| q.number == sn && q.kind == family_kind(family))
        .ok_or_else(ApiError::no_service)
}

fn line_index(account: &SimAccount, sn: &str) -> Result<usize, ApiError> {
    account
        .lines
        .iter()
        .position(|l| l.number == sn)
        .ok_or_else(ApiError::no_service)
}

/// `/telephony…`.
pub(super) fn route(ctx: &Ctx, path: &[&str]) -> Result<Value, ApiError> {
    let ba = ctx.hub.state.lock().rest.ba.clone();
    match path {
        [] if ctx.is("GET") => Ok(json!([ba])),
        [name, rest @ ..] if *name == ba => account_route(ctx, &ba, rest),
        [_, ..] => Err(ApiError::no_service()),
        _ => Err(ApiError::no_route()),
    }
}

fn account_route(ctx: &Ctx, ba: &str, path: &[&str]) -> Result<Value, ApiError> {
    let account = &ctx.hub.account;
    let names = |v: Vec<&String>| json!(v);
    match (ctx.method.as_str(), path) {
        ("GET", []) => Ok(billing_account(account, ba)),
        ("GET", ["line"]) => Ok(names(account.lines.iter().map(|l| &l.number).collect())),
        ("GET", ["line", sn]) => Ok(line_model(&account.lines[line_index(account, sn)?])),
        ("GET", ["line", sn, "simultaneousChannelsDetails"]) => {
            let l = &account.lines[line_index(account, sn)?];
            Ok(json!({
                "basic": l.simultaneous,
                "current": l.simultaneous,
                "extra": 0,
                "maximum": 10,
                "toBeDeleted": 0,
            }))
        }
        ("POST", ["line", sn, "click2Call"]) => click_to_call(ctx, line_index(account, sn)?),
        ("GET", ["number"]) => Ok(names(account.queues.iter().map(|q| &q.number).collect())),
        ("GET", ["number", sn]) => account
            .queues
            .iter()
            .find(|q| q.number == *sn)
            .map(number_model)
            .ok_or_else(ApiError::no_service),
        ("GET", ["service"]) => Ok(names(
            account
                .lines
                .iter()
                .map(|l| &l.number)
                .chain(account.queues.iter().map(|q| &q.number))
                .collect(),
        )),
        ("GET", ["service", sn]) => service_model(account, sn).ok_or_else(ApiError::no_service),
        ("GET", [family @ ("easyHunting" | "ovhPabx")]) => Ok(names(
            account
                .queues
                .iter()
                .filter(|q| q.kind == family_kind(family))
                .map(|q| &q.number)
                .collect(),
        )),
        ("GET", [family @ ("easyHunting" | "ovhPabx"), sn]) => Ok(hunting_service(
            &account.queues[hunting_queue(account, family, sn)?],
        )),
        (_, [family @ ("easyHunting" | "ovhPabx"), sn, "hunting", rest @ ..]) => {
            hunting::route(ctx, hunting_queue(account, family, sn)?, rest)
        }
        (_, ["eventToken"]) => event_token(ctx),
        ("GET", ["task"]) => {
            let state = ctx.hub.state.lock();
            Ok(json!(state
                .rest
                .tasks
                .iter()
                .map(|t| t.id)
                .collect::<Vec<_>>()))
        }
        ("GET", ["task", id]) => {
            let state = ctx.hub.state.lock();
            let id = id.parse::<i64>().ok();
            state
                .rest
                .tasks
                .iter()
                .find(|t| Some(t.id) == id)
                .map(|t| t.to_json())
                .ok_or_else(|| ApiError::not_found("task"))
        }
        _ => Err(ApiError::no_route()),
    }
}

/// `GET|POST|DELETE /telephony/{ba}/eventToken`: the billing account's event token. A new
/// one replaces the last; the feed accepts it for the whole account until it expires or is
/// deleted.
fn event_token(ctx: &Ctx) -> Result<Value, ApiError> {
    let hub = ctx.hub;
    let now_ns = hub.pace.lock().api_ns();
    match ctx.method.as_str() {
        "GET" => {
            let state = hub.state.lock();
            match &state.rest.event_token {
                Some(t) if state.rest.knows_feed_token(&t.token, now_ns) => {
                    Ok(json!({"token": t.token}))
                }
                _ => Err(ApiError::not_found("eventToken")),
            }
        }
        "POST" => {
            let body = json_object(ctx.body)?;
            only_keys(&body, &["expiration"])?;
            let wanted = body.get("expiration").and_then(Value::as_str);
            let Some((_, lasts)) = EXPIRATIONS.iter().find(|(name, _)| Some(*name) == wanted)
            else {
                return Err(ApiError::bad_request(
                    "[expiration] must be one of \"5 minutes\", \"1 hour\", \"1 day\", \
                     \"30 days\", \"unlimited\"",
                ));
            };
            let token = uuid_from(&mut *hub.rng.lock()).to_ascii_uppercase();
            hub.state.lock().rest.event_token = Some(super::state::EventToken {
                token: token.clone(),
                expires_ns: lasts.map(|s| now_ns + s * 1_000_000_000),
            });
            Ok(json!(token))
        }
        "DELETE" => match hub.state.lock().rest.event_token.take() {
            Some(_) => Ok(Value::Null),
            None => Err(ApiError::not_found("eventToken")),
        },
        _ => Err(ApiError::no_route()),
    }
}

/// `POST /telephony/{ba}/line/{sn}/click2Call`: the line rings, then the called number.
fn click_to_call(ctx: &Ctx, line: usize) -> Result<Value, ApiError> {
    let body = json_object(ctx.body)?;
    only_keys(&body, &["calledNumber", "callingNumber", "intercom"])?;
    let Some(called) = phone(&body, "calledNumber")? else {
        return Err(ApiError::bad_request("[calledNumber] is required"));
    };
    // Checked, then not used: OVH does not say what it does (see the module documentation).
    phone(&body, "callingNumber")?;
    let intercom = match body.get("intercom") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(ApiError::bad_request("[intercom] is not a boolean")),
    };
    let account = &ctx.hub.account;
    if account.lines[line].service != "sip" {
        return Err(ApiError::bad_request(
            "Click2Call is only available on SIP lines",
        ));
    }
    if called == account.lines[line].number {
        return Err(ApiError::bad_request(
            "[calledNumber] is the line's own number",
        ));
    }
    let hub = ctx.hub;
    let mut traffic = hub.traffic.lock();
    let gen = traffic.as_mut().ok_or_else(ApiError::unavailable)?;
    let now = hub.pace.lock().traffic_ns();
    let placed = gen.click_to_call(line, &called, intercom, now);
    drop(traffic);
    hub.changed.notify_waiters();
    match placed {
        Ok(()) => Ok(Value::Null),
        Err(e) => Err(ApiError::conflict(e.message())),
    }
}
