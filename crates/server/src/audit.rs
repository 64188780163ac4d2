//! The Audit Log API of seed 001: `GET /v1/audit_logs`, `POST /v1/audit_logs/find`, plus
//! what pipelog adds: `POST /v1/audit_logs` for integrations to record events,
//! `GET /v1/audit_logs/verify` to check the account's hash chain, and signed digests of
//! the chain (`GET /v1/audit_logs/digest`) that `POST /v1/audit_logs/verify` checks later.

use std::fmt;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use pipelog_core::audit::{
    AuditDetails, AuditEntry, AuditId, AuditType, AuditVersion, ChainHash, EntityType,
    NewAuditEntry,
};
use pipelog_core::audit_digest::ChainDigest;
use pipelog_core::find_query::FindQuery;
use pipelog_core::ids::Label;
use pipelog_core::paging::PageLimit;
use pipelog_core::time::UtcTime;
use pipelog_store::{AuditPageRequest, ChainAnchor, ChainVerification, RecordedAudit};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::{Principal, requires};
use crate::error::ApiError;
use crate::extract::{JsonBody, QueryParams, body_bytes, parse_json};
use crate::idempotency::{answering, json_answer};
use crate::openapi::{ErrorResponse, FindQuerySchema};
use crate::response::Json;

/// The largest page a find may ask for.
pub(crate) const MAX_SIZE: u32 = 1000;
/// The deepest page a find may ask for.
pub(crate) const MAX_PAGE: u64 = 1_000_000;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/audit_logs",
            get(list)
                .route_layer(requires!(AuditLogsRead))
                .merge(post(record).route_layer(requires!(AuditLogsWrite))),
        )
        .route(
            "/v1/audit_logs/find",
            post(find).route_layer(requires!(AuditLogsRead)),
        )
        .route(
            "/v1/audit_logs/verify",
            get(verify)
                .merge(post(verify_digest))
                .route_layer(requires!(AuditLogsRead)),
        )
        .route(
            "/v1/audit_logs/digest",
            get(digest).route_layer(requires!(AuditLogsRead)),
        )
}

/// An entry as the seed shows it (`object: "audit_log"`), plus `id`, `seq`, `recordedAt`
/// and `hash`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AuditLogView {
    object: &'static str,
    id: AuditId,
    time_generated: UtcTime,
    entity_type: EntityType,
    #[serde(rename = "type")]
    event_type: AuditType,
    version: AuditVersion,
    #[schema(value_type = Object)]
    details: Map<String, Value>,
    seq: u64,
    recorded_at: UtcTime,
    hash: ChainHash,
}

impl From<AuditEntry> for AuditLogView {
    fn from(entry: AuditEntry) -> Self {
        AuditLogView {
            object: "audit_log",
            id: entry.id,
            time_generated: entry.time_generated,
            entity_type: entry.entity_type,
            event_type: entry.event_type,
            version: entry.version,
            details: entry.details.into_map(),
            seq: entry.seq,
            recorded_at: entry.recorded_at,
            hash: entry.hash,
        }
    }
}

/// The seed's list: `{object: "list", data}`; pipelog adds `hasMore`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AuditListView {
    object: &'static str,
    data: Vec<AuditLogView>,
    has_more: bool,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PageQuery {
    page: Option<u64>,
    size: Option<u64>,
}

impl PageQuery {
    fn into_request(self) -> Result<AuditPageRequest, ApiError> {
        let size = PageLimit::new(self.size, 10, MAX_SIZE)
            .map_err(|error| ApiError::invalid("query parameter `size`", error))?;
        let page = self.page.unwrap_or(0);
        if page > MAX_PAGE {
            return Err(ApiError::invalid(
                "query parameter `page`",
                format!("must be between 0 and {MAX_PAGE}, got {page}"),
            ));
        }
        Ok(AuditPageRequest { page, size })
    }
}

async fn answer(
    state: &AppState,
    principal: &Principal,
    query: Option<FindQuery>,
    page: AuditPageRequest,
) -> Result<Json<AuditListView>, ApiError> {
    let found = state
        .store
        .find_audit(principal.account(), query, page)
        .await?;
    Ok(Json(AuditListView {
        object: "list",
        data: found.items.into_iter().map(AuditLogView::from).collect(),
        has_more: found.has_more,
    }))
}

#[utoipa::path(get, path = "/v1/audit_logs", tag = "Audit logs",
    params(PageQuery),
    responses((status = 200, description = "A page of the account's entries, newest first.", body = AuditListView)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(page): QueryParams<PageQuery>,
) -> Result<Json<AuditListView>, ApiError> {
    answer(&state, &principal, None, page.into_request()?).await
}

/// `POST /v1/audit_logs/find`: the body is a find query; an empty body finds everything.
#[utoipa::path(post, path = "/v1/audit_logs/find", tag = "Audit logs",
    params(PageQuery),
    request_body(content = FindQuerySchema, description = "The find query; an empty body finds everything.",
        example = json!({"type": "and", "queries": [
            {"type": "eq", "caseSensitive": true, "field": "entityType", "value": "item"},
            {"type": "greaterOrEqual", "field": "timeGenerated", "value": "2025-02-21T14:58:15.584Z"}
        ]})),
    responses((status = 200, description = "A page of the matching entries, newest first.", body = AuditListView)))]
pub(crate) async fn find(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(page): QueryParams<PageQuery>,
    request: Request,
) -> Result<Json<AuditListView>, ApiError> {
    let page = page.into_request()?;
    let bytes = body_bytes(request, &state).await?;
    let query = if bytes.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        let value: Value = parse_json(&bytes, "find query")?;
        Some(FindQuery::parse(&value).map_err(|error| ApiError::invalid("find query", error))?)
    };
    answer(&state, &principal, query, page).await
}

/// A `version` given as a string (`"2"`, as seed 001 shows it) or a number (`2`, as seed
/// 002's examples write it); kept as a string.
#[derive(Debug)]
struct VersionInput(AuditVersion);

impl<'de> Deserialize<'de> for VersionInput {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct VersionVisitor;

        impl Visitor<'_> for VersionVisitor {
            type Value = VersionInput;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a version, as a string or a number")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
                Label::parse(text).map(VersionInput).map_err(E::custom)
            }

            fn visit_u64<E: de::Error>(self, number: u64) -> Result<Self::Value, E> {
                self.visit_str(&number.to_string())
            }

            fn visit_i64<E: de::Error>(self, number: i64) -> Result<Self::Value, E> {
                self.visit_str(&number.to_string())
            }

            fn visit_f64<E: de::Error>(self, number: f64) -> Result<Self::Value, E> {
                self.visit_str(&number.to_string())
            }
        }

        deserializer.deserialize_any(VersionVisitor)
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RecordBody {
    id: Option<AuditId>,
    entity_type: EntityType,
    #[serde(rename = "type")]
    event_type: AuditType,
    /// A string (`"2"`) or a number (`2`); kept as a string.
    #[schema(value_type = String)]
    version: VersionInput,
    #[schema(value_type = Object)]
    details: Map<String, Value>,
    time_generated: Option<UtcTime>,
}

fn non_empty<const MAX: usize>(field: &str, label: &Label<MAX>) -> Result<(), ApiError> {
    if label.as_str().is_empty() {
        return Err(ApiError::invalid(
            &format!("field `{field}`"),
            "must not be empty",
        ));
    }
    Ok(())
}

/// `POST /v1/audit_logs`: records an integration's event; 201, or 200 for a retry of an
/// entry recorded before with the same id.
#[utoipa::path(post, path = "/v1/audit_logs", tag = "Audit logs",
    request_body = RecordBody,
    responses(
        (status = 201, description = "Recorded.", body = AuditLogView),
        (status = 200, description = "A retry of an entry recorded before with the same id and content.", body = AuditLogView),
        (status = 409, description = "An entry with this id and other content exists.", body = ErrorResponse),
    ))]
pub(crate) async fn record(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<RecordBody>,
) -> Result<Response, ApiError> {
    non_empty("entityType", &body.entity_type)?;
    non_empty("type", &body.event_type)?;
    non_empty("version", &body.version.0)?;
    let details = AuditDetails::new(body.details)
        .map_err(|error| ApiError::invalid("field `details`", error))?;
    let recorded = state.store.record_audit(
        principal.account(),
        NewAuditEntry {
            id: body.id,
            time_generated: body.time_generated,
            entity_type: body.entity_type,
            event_type: body.event_type,
            version: body.version.0,
            details,
        },
    );
    let render = |recorded: &RecordedAudit| {
        let status = if recorded.created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        json_answer(status, &AuditLogView::from(recorded.entry.clone()), None)
    };
    Ok(answering(render, recorded).await?)
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VerificationView {
    checked: u64,
    valid: bool,
    first_broken_id: Option<AuditId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_broken_seq: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

impl From<ChainVerification> for VerificationView {
    fn from(verification: ChainVerification) -> Self {
        let broken = verification.broken;
        VerificationView {
            checked: verification.checked,
            valid: broken.is_none(),
            first_broken_seq: broken.as_ref().map(|link| link.seq),
            first_broken_id: broken.as_ref().and_then(|link| link.id.clone()),
            reason: broken.map(|link| link.reason),
        }
    }
}

/// `GET /v1/audit_logs/verify`: recomputes the account's chain.
#[utoipa::path(get, path = "/v1/audit_logs/verify", tag = "Audit logs",
    responses((status = 200, description = "The account's chain, recomputed.", body = VerificationView)))]
pub(crate) async fn verify(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<VerificationView>, ApiError> {
    let verification = state.store.verify_audit(principal.account(), None).await?;
    Ok(Json(verification.into()))
}

/// A signed digest, as `GET /v1/audit_logs/digest` gives it and `POST
/// /v1/audit_logs/verify` takes it back. Hashes are hex; key and signature base64.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DigestView {
    account_id: String,
    entries: u64,
    head_hash: String,
    last_id: Option<AuditId>,
    issued_at: UtcTime,
    algorithm: String,
    #[serde(default)]
    public_key: Option<String>,
    signature: String,
}

const ALGORITHM: &str = "Ed25519";

/// `GET /v1/audit_logs/digest`: where the account's chain stands, signed.
#[utoipa::path(get, path = "/v1/audit_logs/digest", tag = "Audit logs",
    responses((status = 200, description = "Where the account's chain stands, signed.", body = DigestView)))]
pub(crate) async fn digest(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<DigestView>, ApiError> {
    let head = state.store.audit_head(principal.account()).await?;
    let digest = ChainDigest {
        account_id: principal.account(),
        entries: head.entries,
        head: head.head,
        last_id: head.last_id,
        issued_at: UtcTime::now(),
    };
    let key = &state.config.digest_key;
    Ok(Json(DigestView {
        account_id: digest.account_id.to_string(),
        entries: digest.entries,
        head_hash: digest.head.to_hex(),
        signature: BASE64.encode(key.sign(&digest)),
        public_key: Some(BASE64.encode(key.public_key().to_bytes())),
        algorithm: ALGORITHM.to_owned(),
        last_id: digest.last_id,
        issued_at: digest.issued_at,
    }))
}

/// `POST /v1/audit_logs/verify` with a digest: checks its signature, then that the chain
/// still passes through the head it states.
#[utoipa::path(post, path = "/v1/audit_logs/verify", tag = "Audit logs",
    request_body = DigestView,
    responses((status = 200, description = "The digest's signature checked, and the chain through its head.", body = VerificationView)))]
pub(crate) async fn verify_digest(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(view): JsonBody<DigestView>,
) -> Result<Json<VerificationView>, ApiError> {
    if view.account_id != principal.account().to_string() {
        return Err(ApiError::invalid(
            "field `accountId`",
            "the digest is of another account than this key's",
        ));
    }
    if !view.algorithm.eq_ignore_ascii_case(ALGORITHM) {
        return Err(ApiError::invalid(
            "field `algorithm`",
            format!("expected {ALGORITHM}"),
        ));
    }
    let head = ChainHash::from_hex(&view.head_hash)
        .ok_or_else(|| ApiError::invalid("field `headHash`", "expected 64 hexadecimal digits"))?;
    let signature = BASE64
        .decode(view.signature.trim())
        .map_err(|_| ApiError::invalid("field `signature`", "expected base64"))?;
    let digest = ChainDigest {
        account_id: principal.account(),
        entries: view.entries,
        head,
        last_id: view.last_id,
        issued_at: view.issued_at,
    };
    let public_key = state.config.digest_key.public_key();
    let signed_by_us = view.public_key.as_deref().is_none_or(|given| {
        BASE64
            .decode(given.trim())
            .is_ok_and(|given| given == public_key.to_bytes())
    });
    if !signed_by_us || !public_key.verifies(&digest, &signature) {
        return Ok(Json(VerificationView {
            checked: 0,
            valid: false,
            first_broken_id: None,
            first_broken_seq: None,
            reason: Some(
                "the digest's signature is not this pipelog's: it was altered, or made elsewhere"
                    .into(),
            ),
        }));
    }
    let verification = state
        .store
        .verify_audit(
            principal.account(),
            Some(ChainAnchor {
                entries: digest.entries,
                head: digest.head,
            }),
        )
        .await?;
    Ok(Json(verification.into()))
}
