//! Async jobs (LiteLLM's `/queue/request`): a chat completion submitted now and
//! fetched later by id. The record that a job's Durable Object stores.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// LiteLLM keeps a job's result a day unless `job_ttl` says otherwise.
pub const DEFAULT_JOB_TTL_MS: u64 = 24 * 3_600_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Queued,
    Running,
    Finished,
    Failed,
}

/// A job's id: `job-` and 32 hex digits, 128 random bits. It is the only thing
/// that guards the job's answer, so it must not be guessed: the shell draws it
/// from the runtime's cryptographic source.
pub fn job_id(random: u128) -> String {
    format!("job-{random:032x}")
}

/// Whether `id` has the shape of a job id (checked before any storage is asked).
pub fn is_job_id(id: &str) -> bool {
    id.len() == 36 && id.starts_with("job-") && id[4..].bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Who may read a job: the hash of the API key that submitted it (as the cache's
/// tenants), or anyone holding its id when it was submitted without a key.
pub fn tenant_of(api_key: Option<&str>) -> Option<String> {
    api_key.map(crate::secret::hashed)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: String,
    /// See [`tenant_of`]: another key gets a 404 for this job.
    #[serde(default)]
    pub tenant: Option<String>,
    pub status: JobStatus,
    pub created_ms: u64,
    /// The chat completion request as the client sent it.
    pub body: String,
    pub result: Option<Value>,
    pub error: Option<Value>,
    /// When the job and its result are deleted, once it has ended.
    pub expires_ms: Option<u64>,
}

impl Job {
    pub fn new(id: String, tenant: Option<String>, body: String, now_ms: u64) -> Self {
        Self {
            id,
            tenant,
            status: JobStatus::Queued,
            created_ms: now_ms,
            body,
            result: None,
            error: None,
            expires_ms: None,
        }
    }

    /// Whether the caller of tenant `tenant` may read this job.
    pub fn readable_by(&self, tenant: Option<&str>) -> bool {
        self.tenant.as_deref().is_none_or(|owner| Some(owner) == tenant)
    }

    /// Records how the job's request was answered: a 2xx body is its result, any
    /// other its error (OpenAI's `error` object when the body has one).
    pub fn finish(&mut self, status: u16, body: &[u8], now_ms: u64, ttl_ms: u64) {
        let parsed: Value = serde_json::from_slice(body)
            .unwrap_or_else(|_| json!({ "message": String::from_utf8_lossy(body), "type": "api_error" }));
        if (200..300).contains(&status) {
            self.status = JobStatus::Finished;
            self.result = Some(parsed);
        } else {
            self.status = JobStatus::Failed;
            let error = parsed.get("error").cloned().unwrap_or(parsed);
            self.error = Some(json!({ "status": status, "error": error }));
        }
        self.expires_ms = Some(now_ms.saturating_add(ttl_ms));
    }

    /// What `GET /queue/response/<id>` answers.
    pub fn view(&self) -> Value {
        let mut view = json!({ "id": self.id, "status": self.status });
        if let Some(result) = &self.result {
            view["result"] = result.clone();
        }
        if let Some(error) = &self.error {
            view["error"] = error.clone();
        }
        view
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_goes_from_queued_to_finished_with_its_result() {
        let mut job = Job::new("job-1".into(), None, "{}".into(), 1_000);
        assert_eq!(job.view(), json!({"id": "job-1", "status": "queued"}));
        job.finish(200, br#"{"object":"chat.completion"}"#, 2_000, 60_000);
        assert_eq!(job.view(), json!({"id": "job-1", "status": "finished", "result": {"object": "chat.completion"}}));
        assert_eq!(job.expires_ms, Some(62_000));
    }

    #[test]
    fn ids_are_128_random_bits_in_hex() {
        assert_eq!(job_id(0xab), format!("job-{}ab", "0".repeat(30)));
        assert_eq!(job_id(u128::MAX), format!("job-{}", "f".repeat(32)));
        assert!(is_job_id(&job_id(12345)));
        for bad in [
            "job-1",
            "job-ABCDEF00000000000000000000000000",
            "x".repeat(36).as_str(),
            "job-../../../../etc/passwd/aaaaaaaa",
        ] {
            assert!(!is_job_id(bad), "{bad}");
        }
    }

    #[test]
    fn a_job_is_read_only_by_the_key_that_submitted_it() {
        let owner = tenant_of(Some("sk-a"));
        let job = Job::new("job-3".into(), owner.clone(), "{}".into(), 0);
        assert!(job.readable_by(owner.as_deref()));
        assert!(!job.readable_by(tenant_of(Some("sk-b")).as_deref()));
        assert!(!job.readable_by(None));
        let open = Job::new("job-4".into(), None, "{}".into(), 0);
        assert!(open.readable_by(None) && open.readable_by(owner.as_deref()));
    }

    #[test]
    fn a_failed_job_keeps_the_error_and_its_status() {
        let mut job = Job::new("job-2".into(), None, "{}".into(), 0);
        job.finish(429, br#"{"error":{"message":"busy","type":"rate_limit_error"}}"#, 0, 1);
        assert_eq!(job.status, JobStatus::Failed);
        assert_eq!(
            job.view()["error"],
            json!({"status": 429, "error": {"message": "busy", "type": "rate_limit_error"}})
        );
        job.finish(502, b"<html>bad gateway</html>", 0, 1);
        assert_eq!(job.view()["error"]["error"]["message"], "<html>bad gateway</html>");
    }
}
