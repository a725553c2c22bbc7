//! Async jobs: `POST /queue/request` and `GET /queue/response/<id>`.
//!
//! Each job is one small Durable Object, named by the job's id. It stores the job
//! (so it survives restarts), runs it from its alarm through the same path as a
//! client's request (so the group's priority queue and reliability rules apply),
//! records the answer, and deletes everything `job_ttl` after the job ended. An
//! alarm that does not complete (the server stopped mid-job) fires again, and the
//! job runs again.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use switchyard_core::config::Config;
use switchyard_core::endpoint::Endpoint;
use switchyard_core::error::ApiError;
use switchyard_core::jobs::{Job as JobRecord, JobStatus, is_job_id, job_id, tenant_of};
use switchyard_core::request::ParsedRequest;
use worker::{DurableObject, Env, Method, Request, Response, Result, State, durable_object};

use crate::background::Background;
use crate::proxy::{self, Caller, HeaderOptions};
use crate::respond::{self, Reply};
use crate::{config_source, coordinator, durable, runtime};

const JOB_KEY: &str = "job";

#[derive(Serialize, Deserialize)]
struct Submit {
    id: String,
    tenant: Option<String>,
    body: String,
}

/// What a job's object answers a read with: the job as its client sees it, and
/// whose it is (checked by the Worker, so that the object stays a store).
#[derive(Serialize, Deserialize)]
struct Stored {
    tenant: Option<String>,
    view: serde_json::Value,
}

/// `POST /queue/request`: validates the chat completion and queues it as a job
/// that only `api_key` (the caller's key, if it sent one) may read.
pub async fn submit(body: &[u8], api_key: Option<&str>, env: &Env, config: &Config) -> Result<Reply> {
    let request = match ParsedRequest::parse(Endpoint::ChatCompletions, body) {
        Ok(request) => request,
        Err(error) => return Ok(Reply::error(&error)),
    };
    if request.stream {
        let message = "an async job's answer is fetched whole: `stream` must be false".to_owned();
        return Ok(Reply::error(&ApiError::InvalidParam { param: "stream", message }));
    }
    let Some(group) = config.group(&request.model) else {
        let error = ApiError::ModelNotFound { model: request.model, available: config.listed_models().to_vec() };
        return Ok(Reply::error(&error));
    };
    let random = runtime::secure_random_u128().map_err(|e| worker::Error::RustError(e.to_string()))?;
    let id = job_id(random);
    let body = String::from_utf8_lossy(body).into_owned();
    let submit = Submit { id: id.clone(), tenant: tenant_of(api_key), body };
    let submitted = send(env, &id, Some(serde_json::to_string(&submit)?)).await?;
    if submitted.status != 200 {
        return Ok(relay(submitted));
    }
    // A rough wait: how long the group's waiting requests have waited so far.
    let eta = match coordinator::status(env, &group.name).await {
        Ok(status) if status.depth > 0 => status.oldest_wait_ms.div_ceil(1000),
        _ => 0,
    };
    let answer = serde_json::json!({
        "id": id, "url": format!("/queue/response/{id}"), "eta": eta, "status": JobStatus::Queued,
    });
    Ok(Reply::json(200, serde_json::to_vec(&answer)?))
}

/// `GET /queue/response/<id>`: the job, to the key that submitted it only (any
/// other is told it does not exist).
pub async fn response(id: &str, api_key: Option<&str>, env: &Env) -> Result<Reply> {
    let not_found = || Reply::error(&ApiError::JobNotFound { id: id.to_owned() });
    if !is_job_id(id) {
        return Ok(not_found());
    }
    let answer = send(env, id, None).await?;
    if answer.status != 200 {
        return Ok(relay(answer));
    }
    let stored: Stored = serde_json::from_str(&answer.text)?;
    let job = JobRecord { tenant: stored.tenant, ..JobRecord::new(id.to_owned(), None, String::new(), 0) };
    if !job.readable_by(tenant_of(api_key).as_deref()) {
        return Ok(not_found());
    }
    Ok(Reply::json(200, serde_json::to_vec(&stored.view)?))
}

/// The job object's JSON answer, passed on to the client.
fn relay(answer: durable::ObjectReply) -> Reply {
    Reply::json(answer.status, answer.text.into_bytes())
}

/// A POST with `body`, else a GET.
async fn send(env: &Env, id: &str, body: Option<String>) -> Result<durable::ObjectReply> {
    durable::call(env, "JOBS", id, body).await
}

#[durable_object]
pub struct Job {
    state: State,
    env: Env,
}

impl DurableObject for Job {
    fn new(state: State, env: Env) -> Self {
        Self { state, env }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let stored: Option<JobRecord> = self.load().await;
        match (req.method(), stored) {
            (Method::Post, None) => {
                let submit: Submit = req.json().await?;
                let job = JobRecord::new(submit.id, submit.tenant, submit.body, runtime::now_ms() as u64);
                self.save(&job).await?;
                self.state.storage().set_alarm(Duration::from_millis(0)).await?;
                respond::json(200, serde_json::to_vec(&job.view())?)
            }
            (Method::Post, Some(job)) => {
                respond::error(&ApiError::Internal(format!("job `{}` exists already", job.id)))
            }
            (_, Some(job)) => {
                respond::json(200, serde_json::to_vec(&Stored { tenant: job.tenant.clone(), view: job.view() })?)
            }
            (_, None) => {
                let id = req.path().trim_start_matches('/').to_owned();
                respond::error(&ApiError::JobNotFound { id })
            }
        }
    }

    async fn alarm(&self) -> Result<Response> {
        let Some(mut job) = self.load().await else {
            return Response::empty();
        };
        let config = config_source::current(&self.env).await.map(|current| current.config);
        match job.status {
            JobStatus::Queued | JobStatus::Running => {
                job.status = JobStatus::Running;
                self.save(&job).await?;
                let (status, body) = match &config {
                    Ok(config) => {
                        let background = Background::Spawn;
                        let body = job.body.clone();
                        let reply = proxy::serve(
                            Endpoint::ChatCompletions,
                            body.as_bytes(),
                            HeaderOptions::default(),
                            Caller::Job,
                            &self.env,
                            background,
                            config,
                            None,
                        )
                        .await?;
                        let status = reply.status();
                        (status, Response::from(reply.into_response()?).bytes().await?)
                    }
                    Err(error) => (error.status(), error.body()),
                };
                let ttl =
                    config.as_ref().map_or(switchyard_core::jobs::DEFAULT_JOB_TTL_MS, |c| c.router.queue.job_ttl_ms);
                job.finish(status, &body, runtime::now_ms() as u64, ttl);
                self.save(&job).await?;
                self.state.storage().set_alarm(Duration::from_millis(ttl)).await?;
            }
            JobStatus::Finished | JobStatus::Failed => {
                if job.expires_ms.is_some_and(|at| runtime::now_ms() as u64 >= at) {
                    self.state.storage().delete_all().await?;
                }
            }
        }
        Response::empty()
    }
}

impl Job {
    async fn load(&self) -> Option<JobRecord> {
        let stored: Option<String> = self.state.storage().get(JOB_KEY).await.ok().flatten();
        stored.and_then(|s| serde_json::from_str(&s).ok())
    }

    async fn save(&self, job: &JobRecord) -> Result<()> {
        self.state.storage().put(JOB_KEY, serde_json::to_string(job)?).await
    }
}
