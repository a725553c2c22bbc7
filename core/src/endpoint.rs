//! The endpoints Switchyard serves (OpenAI's, and Anthropic's Messages API), and
//! the path of a request's URL.

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

/// The endpoints Switchyard routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    ChatCompletions,
    Completions,
    Embeddings,
    /// Anthropic's Messages API (`/v1/messages`): served by any deployment, through
    /// chat completions where the deployment does not speak it.
    Messages,
    /// OpenAI's Responses API (`/v1/responses`): likewise.
    Responses,
}

impl Endpoint {
    /// The path clients call it at (its `/v1` form), as the request log names it.
    pub fn client_path(self) -> &'static str {
        match self {
            Self::ChatCompletions => "/v1/chat/completions",
            Self::Completions => "/v1/completions",
            Self::Embeddings => "/v1/embeddings",
            Self::Messages => "/v1/messages",
            Self::Responses => "/v1/responses",
        }
    }

    /// The path appended to a deployment's `api_base` when it speaks the endpoint's
    /// API (Anthropic's `api_base` has no version in it: the path does).
    pub fn upstream_path(self) -> &'static str {
        match self {
            Self::ChatCompletions => "/chat/completions",
            Self::Completions => "/completions",
            Self::Embeddings => "/embeddings",
            Self::Messages => "/v1/messages",
            Self::Responses => "/responses",
        }
    }

    /// The field that carries the prompt.
    pub fn input_param(self) -> &'static str {
        match self {
            Self::ChatCompletions | Self::Messages => "messages",
            Self::Completions => "prompt",
            Self::Embeddings | Self::Responses => "input",
        }
    }

    /// Whether a deployment that does not speak this endpoint's API is called
    /// with chat completions, its answer turned back into the endpoint's.
    pub fn through_chat(self) -> bool {
        match self {
            Self::Messages | Self::Responses => true,
            Self::ChatCompletions | Self::Completions | Self::Embeddings => false,
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
