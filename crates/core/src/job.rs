//! Jobs: what an execution is a run of, created on first launch and keyed by `jobKey`.

use serde_json::Value;

use crate::ids::{JobId, JobKey, Label};
use crate::text_enum;

text_enum! {
    /// Who defined the job (seed 002's `jobType`).
    pub enum JobType ("jobType") {
        User = "USER",
        System = "SYSTEM",
    }
}

/// A job's title (`jobTitle`).
pub type JobTitle = Label<512>;
/// The kind of a system job, such as `table-import-items-system` (`systemJobType`).
pub type SystemJobType = Label<128>;
/// The pipeline a job belongs to (`pipelineId`).
pub type PipelineId = Label<256>;

/// What a launch says about its job. Fields left out keep the job's stored values; a job
/// seen for the first time takes what is given, and `USER` when `jobType` is absent.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSpec {
    pub key: JobKey,
    pub title: Option<JobTitle>,
    pub job_type: Option<JobType>,
    pub system_job_type: Option<SystemJobType>,
    /// The seed's `jobPeriodicity`: a JSON array, kept as given.
    pub periodicity: Option<Vec<Value>>,
    pub pipeline_id: Option<PipelineId>,
}

impl JobSpec {
    /// A job known only by its key.
    pub fn with_key(key: JobKey) -> Self {
        JobSpec {
            key,
            title: None,
            job_type: None,
            system_job_type: None,
            periodicity: None,
            pipeline_id: None,
        }
    }
}

/// A stored job.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: JobId,
    pub key: JobKey,
    pub title: Option<JobTitle>,
    pub job_type: JobType,
    pub system_job_type: Option<SystemJobType>,
    pub periodicity: Vec<Value>,
    pub pipeline_id: Option<PipelineId>,
}
