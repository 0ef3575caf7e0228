//! `GET /` (the storefront) and `GET /dashboard` (the live cluster page): HTML pages whose
//! style and script are compiled into the binary and inlined into the page, so a browser
//! needs nothing but this gateway (the machines it runs on may have no internet). The
//! pages speak only the public API: `/products`, `/orders`, `/cluster`, `/metrics`, and the
//! storefront follows `/events` for live stock.

use std::sync::OnceLock;

use axum::response::Html;

const STYLE: &str = include_str!("../assets/style.css");
const STORE_HTML: &str = include_str!("../assets/store.html");
const STORE_JS: &str = include_str!("../assets/store.js");
const DASHBOARD_HTML: &str = include_str!("../assets/dashboard.html");
const DASHBOARD_JS: &str = include_str!("../assets/dashboard.js");

/// A page with the shared style and its own script put in their placeholders.
fn assemble(html: &str, script: &str) -> String {
    html.replacen("/*STYLE*/", STYLE, 1)
        .replacen("/*SCRIPT*/", script, 1)
}

/// The handler of `GET /`.
pub async fn storefront() -> Html<&'static str> {
    static PAGE: OnceLock<String> = OnceLock::new();
    Html(PAGE.get_or_init(|| assemble(STORE_HTML, STORE_JS)))
}

/// The handler of `GET /dashboard`.
pub async fn dashboard() -> Html<&'static str> {
    static PAGE: OnceLock<String> = OnceLock::new();
    Html(PAGE.get_or_init(|| assemble(DASHBOARD_HTML, DASHBOARD_JS)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_and_nothing_is_loaded_from_elsewhere() {
        for page in [
            assemble(STORE_HTML, STORE_JS),
            assemble(DASHBOARD_HTML, DASHBOARD_JS),
        ] {
            assert!(!page.contains("/*STYLE*/") && !page.contains("/*SCRIPT*/"));
            assert!(page.contains("--accent"), "the style is inlined");
            for outside in ["http://", "https://", "src=", "<link"] {
                assert!(
                    !page.contains(outside),
                    "page refers outside itself: {outside}"
                );
            }
        }
    }
}
