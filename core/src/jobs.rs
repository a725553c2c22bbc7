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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: String,
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
    pub fn new(id: String, body: String, now_ms: u64) -> Self {
        Self { id, status: JobStatus::Queued, created_ms: now_ms, body, result: None, error: None, expires_ms: None }
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
        let mut job = Job::new("job-1".into(), "{}".into(), 1_000);
        assert_eq!(job.view(), json!({"id": "job-1", "status": "queued"}));
        job.finish(200, br#"{"object":"chat.completion"}"#, 2_000, 60_000);
        assert_eq!(job.view(), json!({"id": "job-1", "status": "finished", "result": {"object": "chat.completion"}}));
        assert_eq!(job.expires_ms, Some(62_000));
    }

    #[test]
    fn a_failed_job_keeps_the_error_and_its_status() {
        let mut job = Job::new("job-2".into(), "{}".into(), 0);
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
