//! The API described as OpenAPI 3.1, generated from the handlers' own annotations and types
//! (utoipa): `/openapi.json`, and a human-readable reference at `/docs` (Swagger UI, served
//! from the binary: no CDN).
//!
//! Each handler states its path, parameters, body and success answers; what every
//! authenticated operation shares (the two security schemes, the error answers and their
//! `ErrorResponse` body) is added here, in one place. A test holds the document to the
//! routes the server registers, both ways.

use std::sync::LazyLock;

use axum::Router;
use pipelog_core::idempotency::IdempotencyKey;
use utoipa::openapi::Required;
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::Schema;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, Ref, RefOr, SecurityRequirement};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_swagger_ui::SwaggerUi;

use crate::AppState;

/// The body of every error answer (the seeds' `ErrorResponse`).
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code, reason = "only describes the body request_context writes")]
pub(crate) struct ErrorResponse {
    /// The HTTP status, again.
    status: u16,
    /// What went wrong, naming the field, header or parameter at fault.
    message: String,
    /// The request's id, also in the `X-Request-Id` header and the server's logs.
    request_id: String,
    /// More about the failure, when there is more (where in a JSON body it failed).
    detail: Option<String>,
}

/// The audit find language (docs/api.md): a test, or a combination of queries.
pub(crate) struct FindQuerySchema;

impl utoipa::PartialSchema for FindQuerySchema {
    fn schema() -> RefOr<Schema> {
        use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
        ObjectBuilder::new()
            .description(Some(
                "A test `{type, field, value, caseSensitive}`, or a combination \
                 `{type: and | or | not, queries}`; at most 10 levels deep and 200 nodes. \
                 See docs/api.md for what each operator means, exactly.",
            ))
            .property(
                "type",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(pipelog_core::find_query::OPERATORS.iter().copied())),
            )
            .required("type")
            .property(
                "field",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some(
                        "id, timeGenerated (or createdAt), entityType, type, version, or \
                     details.<key>, with dots for nested keys.",
                    )),
            )
            .property(
                "value",
                ObjectBuilder::new().description(Some(
                    "A string, number, boolean or null; an array of up to 100 of those for in \
                     and notIn; a boolean for exists.",
                )),
            )
            .property(
                "caseSensitive",
                ObjectBuilder::new().schema_type(Type::Boolean),
            )
            .property(
                "queries",
                ArrayBuilder::new().items(Ref::from_schema_name("FindQuery")),
            )
            .into()
    }
}

impl ToSchema for FindQuerySchema {
    fn name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("FindQuery")
    }
}

/// Paths that need no key.
const PUBLIC_PATHS: &[&str] = &[
    "/healthz",
    "/readyz",
    "/metrics",
    "/v1/exports/{token}/{file_name}",
];

/// The error answers every authenticated operation may give, beside its own.
const COMMON_ERRORS: &[(&str, &str)] = &[
    (
        "400",
        "The request is malformed; the message names what is wrong.",
    ),
    ("401", "No key, or a key that is unknown or revoked."),
    ("403", "The key lacks the permission the operation needs."),
    ("413", "The body is larger than the server takes."),
    (
        "429",
        "The key's rate limit is spent; `Retry-After` says when to try again.",
    ),
    (
        "500",
        "A failure of pipelog itself; the server logged it with the request id.",
    ),
    (
        "503",
        "The server is overloaded or stopping; `Retry-After` says when to try again.",
    ),
];

/// Adds the security schemes, and to each authenticated operation its security
/// requirement and the common error answers.
struct Common;

impl Modify for Common {
    fn modify(&self, document: &mut Document) {
        let components = document.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Api-Key",
                "The key, as `X-Api-Key: <key>`.",
            ))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The key, as `Authorization: Bearer <key>`."))
                    .build(),
            ),
        );
        let requirements = vec![
            SecurityRequirement::new("api_key", Vec::<String>::new()),
            SecurityRequirement::new("bearer", Vec::<String>::new()),
        ];
        for (path, item) in document.paths.paths.iter_mut() {
            for (method, operation) in operations(item) {
                operation.operation_id = Some(operation_id(method, path));
            }
            if PUBLIC_PATHS.contains(&path.as_str()) {
                continue;
            }
            for (method, operation) in operations(item) {
                operation.security = Some(requirements.clone());
                for (status, description) in COMMON_ERRORS {
                    add_error(operation, status, description);
                }
                if matches!(method, "post" | "put" | "patch" | "delete") {
                    idempotent(operation);
                }
            }
        }
    }
}

/// Adds an error answer with the `ErrorResponse` body, unless the operation describes its
/// own answer with that status.
fn add_error(operation: &mut Operation, status: &str, description: &str) {
    if operation.responses.responses.contains_key(status) {
        return;
    }
    let response = ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorResponse")))
                .build(),
        )
        .build();
    operation
        .responses
        .responses
        .insert(status.to_owned(), response.into());
}

/// Every write takes an `Idempotency-Key` (crate::idempotency).
fn idempotent(operation: &mut Operation) {
    let parameter = ParameterBuilder::new()
        .name("Idempotency-Key")
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "Names this write (1 to 255 printable ASCII characters): a retry with the same key \
             within 24 hours gets the first answer again, with `Idempotent-Replayed: true`, \
             and writes nothing twice.",
        ))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(IdempotencyKey::MAX_LEN)),
        ))
        .build();
    operation
        .parameters
        .get_or_insert_with(Vec::new)
        .push(parameter.into());
    add_error(
        operation,
        "409",
        "The request's Idempotency-Key is held by an attempt still being answered (or whose \
         answer was lost in a restart), or the current state forbids the request.",
    );
    add_error(
        operation,
        "422",
        "The Idempotency-Key was used for another request in the last 24 hours.",
    );
}

fn operations(
    item: &mut utoipa::openapi::PathItem,
) -> impl Iterator<Item = (&'static str, &mut Operation)> {
    [
        ("get", item.get.as_mut()),
        ("put", item.put.as_mut()),
        ("post", item.post.as_mut()),
        ("delete", item.delete.as_mut()),
        ("options", item.options.as_mut()),
        ("head", item.head.as_mut()),
        ("patch", item.patch.as_mut()),
        ("trace", item.trace.as_mut()),
    ]
    .into_iter()
    .filter_map(|(method, operation)| Some((method, operation?)))
}

/// A unique operation id from the method and the path, for client generators:
/// `get /v1/executions/{id}/logs` is `getV1ExecutionsIdLogs`.
fn operation_id(method: &str, path: &str) -> String {
    let mut id = method.to_owned();
    for word in path.split(|c: char| !c.is_ascii_alphanumeric()) {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            id.push(first.to_ascii_uppercase());
            id.extend(chars);
        }
    }
    id
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "pipelog",
        description = "Execution logs, audit logs and operating logs for data pipelines. \
                       The seed APIs (Product-Live's Data Factory and audit logs, Talend's \
                       execution logs, the operating log) work as their vendors document \
                       them; the native API under `/v1` adds what they lack.",
        license(name = "See the repository", identifier = "LicenseRef-pipelog"),
    ),
    modifiers(&Common),
    components(schemas(
        ErrorResponse,
        FindQuerySchema,
        // Used only in parameters, which utoipa does not collect schemas from.
        pipelog_core::export::ExportFormat,
        pipelog_core::operating::OperationScope,
        pipelog_core::paging::SortOrder,
        crate::native::views::Render,
    )),
    paths(
        crate::metrics::healthz,
        crate::metrics::readyz,
        crate::metrics::metrics,
        crate::data_factory::create_log,
        crate::native::executions::launch,
        crate::native::executions::list,
        crate::native::executions::show,
        crate::native::executions::start,
        crate::native::executions::end,
        crate::native::executions::claim,
        crate::native::logs::read,
        crate::native::logs::append,
        crate::native::logs::append_by_cid,
        crate::native::tail::stream,
        crate::native::retention::show,
        crate::native::retention::update,
        crate::executions::read,
        crate::executions::delete,
        crate::executions::export,
        crate::executions::status,
        crate::exports::download,
        crate::audit::list,
        crate::audit::find,
        crate::audit::record,
        crate::audit::verify,
        crate::audit::digest,
        crate::audit::verify_digest,
        crate::operating::list,
        crate::operating::create,
        crate::operating::create_batch,
        crate::operating::show,
        crate::operating::operation_statistics,
        crate::operating::period_statistics,
        crate::operating::gantt,
        crate::native::operations::list,
        crate::native::keys::create_key,
        crate::native::keys::list_keys,
        crate::native::keys::revoke_key,
        crate::otlp::export,
        crate::lineage::receive,
    ),
    tags(
        (name = "Data Factory", description = "Seed 000: one log line per request, its execution named by the `cid` header."),
        (name = "Executions", description = "Runs of jobs: launched, claimed, started, ended."),
        (name = "Execution logs", description = "The lines a run writes: cursor pages at any depth, bulk appends, the live tail, retention."),
        (name = "Talend execution logs", description = "Seed 003: pages by position, deletion, exports and their download links."),
        (name = "Audit logs", description = "Seeds 001 and 002: who did what, searchable, hash-chained, with signed digests."),
        (name = "Operating logs", description = "Seed 004: the trace of a data operation, its statistics and its Gantt chart."),
        (name = "Keys", description = "API keys and the permissions they carry (KEYS_ADMIN)."),
        (name = "Monitoring", description = "Probes and metrics; no key needed."),
        (name = "OpenLineage", description = "Run events from orchestrators, as Marquez takes them."),
        (name = "OpenTelemetry", description = "OTLP/HTTP log exports."),
    )
)]
struct ApiDoc;

/// The document, built once.
pub(crate) static DOCUMENT: LazyLock<Document> = LazyLock::new(ApiDoc::openapi);

/// `/openapi.json`, and `/docs` reading it.
pub(crate) fn router() -> Router<AppState> {
    SwaggerUi::new("/docs")
        .url("/openapi.json", DOCUMENT.clone())
        .into()
}
