//! The OpenAI endpoints Switchyard serves, and the path of a request's URL.

/// The path of a URL as the runtime serializes it (scheme, host, then the path,
/// in which `?` and `#` only ever begin the query and the fragment): read
/// without parsing the URL again.
pub fn url_path(url: &str) -> &str {
    let Some((_, rest)) = url.split_once("://") else {
        return url;
    };
    let path = rest.find('/').map_or("/", |start| &rest[start..]);
    path.split(['?', '#']).next().unwrap_or(path)
}

/// The OpenAI endpoints Switchyard routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    ChatCompletions,
    Completions,
    Embeddings,
}

impl Endpoint {
    /// The path appended to a deployment's `api_base`.
    pub fn upstream_path(self) -> &'static str {
        match self {
            Self::ChatCompletions => "/chat/completions",
            Self::Completions => "/completions",
            Self::Embeddings => "/embeddings",
        }
    }

    /// The field that carries the prompt.
    pub fn input_param(self) -> &'static str {
        match self {
            Self::ChatCompletions => "messages",
            Self::Completions => "prompt",
            Self::Embeddings => "input",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_path_stops_at_the_query_and_the_fragment() {
        assert_eq!(url_path("https://gw.example/v1/chat/completions?x=1"), "/v1/chat/completions");
        assert_eq!(url_path("http://127.0.0.1:8787/v1/models#top"), "/v1/models");
        assert_eq!(url_path("https://gw.example"), "/");
        assert_eq!(url_path("https://gw.example/"), "/");
    }
}
