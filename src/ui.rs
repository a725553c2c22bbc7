//! The live page (`GET /ui`): a page, its script and its style, bundled into the
//! Worker as bytes and served as they are (nothing in them is parsed in Rust).
//!
//! They hold no data and so need no key: the script polls `/ui/state`, which does,
//! and asks for the master key when it answers 401.

use crate::respond::{Body, HeaderList, Reply};

/// One of the page's files.
#[derive(Clone, Copy)]
pub enum Asset {
    Page,
    Script,
    Style,
}

/// Only this origin's script and style, no inline code, no frames, no other
/// hosts: the script's one request is to `/ui/state`. The script sets sizes
/// through the CSSOM, which `style-src` does not govern.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

impl Asset {
    fn bytes(self) -> &'static [u8] {
        match self {
            Self::Page => include_bytes!("ui/page.html"),
            Self::Script => include_bytes!("ui/app.js"),
            Self::Style => include_bytes!("ui/app.css"),
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Self::Page => "text/html; charset=utf-8",
            Self::Script => "text/javascript; charset=utf-8",
            Self::Style => "text/css; charset=utf-8",
        }
    }

    /// The file with its type and policy; never cached, so that a deploy shows at
    /// the next reload.
    pub fn reply(self) -> Reply {
        let headers: HeaderList = vec![
            ("content-type", self.content_type().into()),
            ("content-security-policy", CONTENT_SECURITY_POLICY.into()),
            ("cache-control", "no-store".into()),
            ("x-content-type-options", "nosniff".into()),
            ("referrer-policy", "no-referrer".into()),
        ];
        Reply::new(200, headers, Body::Bytes(self.bytes().to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_its_script_and_style_from_the_paths_served() {
        let page = std::str::from_utf8(Asset::Page.bytes()).unwrap_or_default();
        assert!(page.contains(r#"<script type="module" src="/ui/app.js"></script>"#));
        assert!(page.contains(r#"<link rel="stylesheet" href="/ui/app.css">"#));
        // The policy allows no inline script or style: the page must have none.
        assert_eq!(page.matches("<script").count(), 1);
        assert!(!page.contains("<style") && !page.contains(" style="));
        let script = std::str::from_utf8(Asset::Script.bytes()).unwrap_or_default();
        assert!(script.contains(r#"fetch("/ui/state""#));
        assert!(
            !script.contains("innerHTML =") && !script.contains("insertAdjacentHTML"),
            "names are set as text, never parsed as markup"
        );
    }
}
