//! [`RemoteControl`]: the operator's actions through the running server's admin API.
//! Each method is the request its route answers; the server runs [`super::LocalControl`].

use std::collections::HashSet;

use hyper::Method;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::client::{self, AdminResponse, Endpoint};
use super::{ControlError, Operations, QueueAction};
use crate::queue::{QuarantinedMessage, QueueId, QueueSummary, QueuedEnvelope, Selection};

/// Ids sent to the server per request (about 30 bytes each in JSON).
const IDS_PER_REQUEST: usize = 10_000;

/// The actions through the admin endpoint at `endpoint`.
#[derive(Debug, Clone)]
pub struct RemoteControl {
    endpoint: Endpoint,
}

impl RemoteControl {
    /// The actions through `endpoint`.
    pub fn new(endpoint: Endpoint) -> Self {
        Self { endpoint }
    }

    /// The endpoint the actions go to.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// `method path` with `body`: the response if 200 (or 404, when `missing_ok`).
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Vec<u8>,
        missing_ok: bool,
    ) -> Result<AdminResponse, ControlError> {
        let response = client::request_with_body(&self.endpoint, method, path, body).await?;
        match response.status {
            200 => Ok(response),
            404 if missing_ok => Ok(response),
            _ => Err(ControlError::Refused(client::error_text(&response.body))),
        }
    }

    /// `GET path` as JSON.
    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ControlError> {
        let response = self.call(Method::GET, path, Vec::new(), false).await?;
        Ok(serde_json::from_slice(&response.body)?)
    }

    /// `GET path` as JSON, `None` on 404.
    async fn get_opt<T: DeserializeOwned>(&self, path: &str) -> Result<Option<T>, ControlError> {
        let response = self.call(Method::GET, path, Vec::new(), true).await?;
        if response.status == 404 {
            return Ok(None);
        }
        Ok(Some(serde_json::from_slice(&response.body)?))
    }

    /// `GET path` as bytes, `None` on 404.
    async fn get_bytes(&self, path: &str) -> Result<Option<Vec<u8>>, ControlError> {
        let response = self.call(Method::GET, path, Vec::new(), true).await?;
        Ok((response.status == 200).then_some(response.body))
    }

    /// `method path`: whether the message was there (200, not 404).
    async fn found(&self, method: Method, path: &str) -> Result<bool, ControlError> {
        let response = self.call(method, path, Vec::new(), true).await?;
        Ok(response.status == 200)
    }
}

impl Operations for RemoteControl {
    async fn queue_list(&self) -> Result<Vec<QueuedEnvelope>, ControlError> {
        self.get("/queue").await
    }

    async fn queue_stats(&self) -> Result<QueueSummary, ControlError> {
        self.get("/queue/stats").await
    }

    async fn queue_envelope(&self, id: QueueId) -> Result<Option<QueuedEnvelope>, ControlError> {
        self.get_opt(&format!("/queue/{id}")).await
    }

    async fn queue_message(&self, id: QueueId) -> Result<Option<Vec<u8>>, ControlError> {
        self.get_bytes(&format!("/queue/{id}/message")).await
    }

    async fn queue_flush_all(&self) -> Result<usize, ControlError> {
        let response = self
            .call(Method::POST, "/queue/flush", Vec::new(), false)
            .await?;
        let answer: Value = serde_json::from_slice(&response.body)?;
        Ok(answer["flushed"]
            .as_u64()
            .map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX)))
    }

    /// In requests of 10,000 ids (`IDS_PER_REQUEST`); the selection rides on the last one, so
    /// what earlier ones deleted or bounced is gone by then, and what they held or flushed
    /// is dropped here when selected again.
    async fn queue_apply(
        &self,
        action: QueueAction,
        ids: Vec<QueueId>,
        selection: Selection,
    ) -> Result<Vec<QueueId>, ControlError> {
        let path = format!("/queue/batch/{}", action.name());
        let mut requests: Vec<Value> = ids
            .chunks(IDS_PER_REQUEST)
            .map(|chunk| json!({ "ids": chunk }))
            .collect();
        if selection.is_set() {
            match requests.last_mut() {
                Some(last) => {
                    last["from"] = json!(selection.from);
                    last["to"] = json!(selection.to);
                }
                None => {
                    requests.push(json!({ "ids": [], "from": selection.from, "to": selection.to }))
                }
            }
        }
        let mut seen = HashSet::new();
        let mut done = Vec::with_capacity(ids.len());
        for request in requests {
            let body = serde_json::to_vec(&request)?;
            let response = self.call(Method::POST, &path, body, false).await?;
            #[derive(serde::Deserialize)]
            struct Answer {
                done: Vec<QueueId>,
            }
            let answer: Answer = serde_json::from_slice(&response.body)?;
            done.extend(answer.done.into_iter().filter(|id| seen.insert(*id)));
        }
        Ok(done)
    }

    async fn quarantine_list(&self) -> Result<Vec<QuarantinedMessage>, ControlError> {
        self.get("/quarantine").await
    }

    async fn quarantine_record(
        &self,
        id: QueueId,
    ) -> Result<Option<QuarantinedMessage>, ControlError> {
        self.get_opt(&format!("/quarantine/{id}")).await
    }

    async fn quarantine_message(&self, id: QueueId) -> Result<Option<Vec<u8>>, ControlError> {
        self.get_bytes(&format!("/quarantine/{id}/message")).await
    }

    async fn quarantine_release(&self, id: QueueId) -> Result<bool, ControlError> {
        self.found(Method::POST, &format!("/quarantine/{id}/release"))
            .await
    }

    async fn quarantine_delete(&self, id: QueueId) -> Result<bool, ControlError> {
        self.found(Method::DELETE, &format!("/quarantine/{id}"))
            .await
    }
}
