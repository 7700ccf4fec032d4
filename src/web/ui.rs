//! The dashboard's pages, served from the binary: one HTML shell for every view (the views
//! are drawn by the browser from the JSON API and the live stream) and its scripts and styles.
//!
//! Everything is embedded with `include_str!`, so the binary is the whole deployment: no CDN,
//! no build step. The shell carries its own Content-Security-Policy — scripts and styles from
//! this origin only, no inline code, no plugins, nothing may frame the dashboard — which the
//! assets are written to satisfy (they build the page with DOM calls and never parse feed
//! text as HTML). The one thing the pages frame is the screen pop's page, any http/https URL.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// The policy of the pages. `style-src 'self'` forbids `style="…"` attributes; scripts set
/// styles through the CSSOM, which the policy allows. `frame-src http: https:` lets the
/// screen-pop modal show the CRM page the user configured (in a sandboxed iframe); the
/// dashboard itself may still be framed by no one.
pub const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; connect-src 'self'; font-src 'self'; manifest-src 'self'; \
frame-src http: https:; form-action 'self'; object-src 'none'; base-uri 'none'; \
frame-ancestors 'none'";

const SHELL: &str = include_str!("ui/index.html");

/// Every asset: file name, content type, contents.
const ASSETS: &[(&str, &str, &str)] = &[
    ("app.css", CSS, include_str!("ui/app.css")),
    ("app.js", JS, include_str!("ui/app.js")),
    ("dom.js", JS, include_str!("ui/dom.js")),
    ("i18n.js", JS, include_str!("ui/i18n.js")),
    ("live.js", JS, include_str!("ui/live.js")),
    ("login.js", JS, include_str!("ui/login.js")),
    ("overview.js", JS, include_str!("ui/overview.js")),
    ("queues.js", JS, include_str!("ui/queues.js")),
    ("history.js", JS, include_str!("ui/history.js")),
    ("reports.js", JS, include_str!("ui/reports.js")),
    ("settings.js", JS, include_str!("ui/settings.js")),
    ("help.js", JS, include_str!("ui/help.js")),
    ("health.js", JS, include_str!("ui/health.js")),
    ("pop.js", JS, include_str!("ui/pop.js")),
    ("webhooks.js", JS, include_str!("ui/webhooks.js")),
    ("people.js", JS, include_str!("ui/people.js")),
    ("mypop.js", JS, include_str!("ui/mypop.js")),
    ("agents.js", JS, include_str!("ui/agents.js")),
    ("ovh.js", JS, include_str!("ui/ovh.js")),
    ("favicon.svg", SVG, include_str!("ui/favicon.svg")),
];
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const SVG: &str = "image/svg+xml";

/// The paths the shell answers: one per view, so that a view can be bookmarked and reloaded.
pub const PAGES: &[&str] = &[
    "/",
    "/login",
    "/overview",
    "/queues",
    "/wall",
    "/wallboard",
    "/history",
    "/reports",
    "/settings",
    "/webhooks",
    "/people",
    "/my-screen-pop",
    "/ovh",
    "/help",
];

pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let mut router = Router::new().route("/assets/{*file}", get(asset));
    for page in PAGES {
        router = router.route(page, get(shell));
    }
    router
}

async fn shell() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, PAGE_CSP),
        ],
        SHELL,
    )
        .into_response()
}

async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        // `no-cache`, not `no-store`: a browser may keep an asset but must check it is
        // still current, so a new binary's scripts are picked up at once.
        Some((_, kind, body)) => (
            [
                (header::CONTENT_TYPE, *kind),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            *body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(res: Response) -> String {
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn the_shell_carries_a_strict_policy() {
        let res = shell().await;
        let csp = res.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        for part in [
            "script-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            "frame-src http: https:;",
            "default-src 'none'",
        ] {
            assert!(csp.contains(part), "{part} missing from {csp}");
        }
        assert!(!csp.contains("unsafe"), "{csp}");
        // Framing is opened to web pages only: no `*`, no `data:`/`blob:`/`javascript:`
        // frames, and only through `frame-src` (not `child-src` or a wider default).
        let frame = csp
            .split(';')
            .map(str::trim)
            .find(|d| d.starts_with("frame-src"))
            .unwrap();
        assert_eq!(frame, "frame-src http: https:");
        assert!(!csp.contains('*') && !csp.contains("child-src"), "{csp}");
        for d in csp.split(';').map(str::trim) {
            if !d.starts_with("frame-src") {
                assert!(!d.contains("http:"), "{d} reaches beyond this origin");
            }
        }
        let html = body(res).await;
        assert!(html.contains("<script type=\"module\" src=\"/assets/app.js\">"));
    }

    #[test]
    fn the_shell_has_no_inline_code_or_style() {
        // The policy would block them: any here is a bug the browser would only log.
        for (i, part) in SHELL.split("<script").enumerate().skip(1) {
            assert!(part.trim_start().contains("src="), "inline script #{i}");
        }
        assert!(!SHELL.contains("<style"), "inline style element");
        assert!(!SHELL.contains(" style="), "style attribute");
        let handler = SHELL.split(" on").skip(1).any(|rest| {
            let name: String = rest.chars().take_while(char::is_ascii_alphabetic).collect();
            !name.is_empty() && rest[name.len()..].starts_with('=')
        });
        assert!(!handler, "event handler attribute");
    }

    #[test]
    fn scripts_never_parse_text_as_html() {
        // Feed text (descriptions, numbers) may hold markup: the scripts build the page with
        // DOM calls and textContent only.
        for (name, kind, text) in ASSETS {
            if *kind != JS {
                continue;
            }
            for sink in [
                "innerHTML",
                "outerHTML",
                "insertAdjacentHTML",
                "document.write",
                "eval(",
                "new Function",
                "setAttribute('style'",
                "setAttribute(\"style\"",
            ] {
                assert!(!text.contains(sink), "{name} uses {sink}");
            }
        }
    }

    #[test]
    fn every_module_the_scripts_import_is_served() {
        for (name, kind, text) in ASSETS {
            if *kind != JS {
                continue;
            }
            for import in text.split("from './").skip(1) {
                let file = import.split('\'').next().unwrap();
                assert!(
                    ASSETS.iter().any(|(n, _, _)| *n == file),
                    "{name} imports {file}, which is not served"
                );
            }
        }
    }

    #[tokio::test]
    async fn assets_are_served_with_their_type_and_unknown_ones_are_not() {
        let res = asset(Path("app.js".into())).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()[header::CONTENT_TYPE], JS);
        let res = asset(Path("../Cargo.toml".into())).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
    }
}
