//! The console's pages: a shell per address (the top bar with what the key may open, the
//! session's CSRF token, the page's module) and, for an execution, its metadata. The rest
//! of each page is built by its module from the API. A browser without a session goes to
//! the sign-in form and comes back; a key without the page's permission gets a 403 page.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use pipelog_core::execution::Execution;
use pipelog_core::ids::{ExecutionId, OperationId};
use pipelog_core::permission::Permission;
use pipelog_store::StoreError;

use super::html;
use super::session::{Session, current};
use crate::AppState;
use crate::error::ApiError;

/// One of the console's sections: its page in the top bar.
struct Section {
    href: &'static str,
    label: &'static str,
    /// What a key needs to open it.
    permission: Permission,
    /// `body[data-page]` of its list page, the module that builds it, and the id of the
    /// element the module fills.
    page: &'static str,
    heading: &'static str,
}

const SECTIONS: [Section; 5] = [
    Section {
        href: "/console/executions",
        label: "Executions",
        permission: Permission::JobsRead,
        page: "executions",
        heading: "Executions",
    },
    Section {
        href: "/console/audit",
        label: "Audit",
        permission: Permission::AuditLogsRead,
        page: "audit",
        heading: "Audit log",
    },
    Section {
        href: "/console/operations",
        label: "Operations",
        permission: Permission::OperatingLogsRead,
        page: "operations",
        heading: "Operations",
    },
    Section {
        href: "/console/statistics",
        label: "Statistics",
        permission: Permission::OperatingLogsRead,
        page: "statistics",
        heading: "Statistics",
    },
    Section {
        href: "/console/keys",
        label: "Keys",
        permission: Permission::KeysAdmin,
        page: "keys",
        heading: "API keys",
    },
];

#[derive(Debug)]
struct NavLink {
    href: &'static str,
    label: &'static str,
    current: bool,
}

/// What every page's frame shows.
#[derive(Debug)]
struct Shell {
    title: String,
    /// `body[data-page]`.
    page: &'static str,
    /// The module the page loads from `/console/assets/`.
    module: Option<&'static str>,
    csrf: String,
    account: String,
    permissions: String,
    nav: Vec<NavLink>,
}

impl Shell {
    fn new(session: &Session, section: usize, page: &'static str, title: String) -> Shell {
        let key = &session.key;
        Shell {
            title,
            page,
            module: None,
            csrf: session.token.csrf_token(),
            account: key.account.to_string(),
            permissions: key.permissions.to_string(),
            nav: SECTIONS
                .iter()
                .enumerate()
                .filter(|(_, entry)| key.permissions.contains(entry.permission))
                .map(|(index, entry)| NavLink {
                    href: entry.href,
                    label: entry.label,
                    current: index == section,
                })
                .collect(),
        }
    }
}

#[derive(askama::Template)]
#[template(path = "simple.html")]
struct SimplePage<'a> {
    shell: Shell,
    heading: &'a str,
    container: &'a str,
}

#[derive(askama::Template)]
#[template(path = "problem.html")]
struct ProblemPage<'a> {
    shell: Shell,
    heading: &'a str,
    message: &'a str,
}

#[derive(askama::Template)]
#[template(path = "execution.html")]
struct ExecutionPage {
    shell: Shell,
    execution: ExecutionMeta,
}

#[derive(askama::Template)]
#[template(path = "operation.html")]
struct OperationPage {
    shell: Shell,
    operation: String,
}

/// An execution as its page's header shows it; every text is escaped by the template.
#[derive(Debug)]
struct ExecutionMeta {
    id: String,
    cid: String,
    job_key: String,
    job_title: Option<String>,
    status: String,
    status_class: String,
    origin: String,
    queued_at: String,
    started_at: Option<String>,
    ended_at: Option<String>,
    log_count: u64,
}

impl From<Execution> for ExecutionMeta {
    fn from(execution: Execution) -> Self {
        let status = execution.status.to_string();
        let log_count = execution.stored_lines();
        ExecutionMeta {
            id: execution.id.to_string(),
            cid: execution.cid.to_string(),
            job_key: execution.job.key.to_string(),
            job_title: execution.job.title.map(|title| title.to_string()),
            status_class: status.to_lowercase(),
            status,
            origin: execution.action_origin.to_string(),
            queued_at: execution.queued_at.to_string(),
            started_at: execution.started_at.map(|at| at.to_string()),
            ended_at: execution.ended_at.map(|at| at.to_string()),
            log_count,
        }
    }
}

/// The signed-in session, or the response that sends the browser to sign in (coming back
/// to `uri` after) or reports a failure.
async fn signed_in(state: &AppState, headers: &HeaderMap, uri: &Uri) -> Result<Session, Response> {
    match current(state, headers).await {
        Ok(Some(session)) => Ok(session),
        Ok(None) => {
            let back = uri
                .path_and_query()
                .map_or("/console/executions", |p| p.as_str());
            let next: String = form_urlencoded::byte_serialize(back.as_bytes()).collect();
            Err(
                axum::response::Redirect::to(&format!("/console/login?next={next}"))
                    .into_response(),
            )
        }
        Err(error) => Err(error.into_response()),
    }
}

/// A page of one section, once the session and its permission are checked; `build` makes
/// it from the shell.
async fn section_page(
    state: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
    section: usize,
    build: impl AsyncFnOnce(Shell, &Session) -> Response,
) -> Response {
    let session = match signed_in(state, headers, uri).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    let Section {
        label, permission, ..
    } = SECTIONS[section];
    let shell = Shell::new(&session, section, "problem", label.to_owned());
    if !session.key.permissions.contains(permission) {
        let message = format!("This key lacks the permission {permission}, which this page needs.");
        return problem(shell, StatusCode::FORBIDDEN, "Not allowed", &message);
    }
    build(shell, &session).await
}

fn problem(shell: Shell, status: StatusCode, heading: &str, message: &str) -> Response {
    html(
        status,
        &ProblemPage {
            shell,
            heading,
            message,
        },
    )
}

/// The list page of section `SECTION` (an index into [`SECTIONS`]), which its module
/// builds whole.
pub(super) async fn section<const SECTION: usize>(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let Section { page, heading, .. } = SECTIONS[SECTION];
    section_page(&state, &headers, &uri, SECTION, async |mut shell, _| {
        shell.page = page;
        shell.module = Some(page);
        let container = page;
        html(
            StatusCode::OK,
            &SimplePage {
                shell,
                heading,
                container,
            },
        )
    })
    .await
}

/// `/console/executions/{id}`: the execution's metadata, and the log viewer.
pub(super) async fn execution(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
) -> Response {
    section_page(&state, &headers, &uri, 0, async |mut shell, session| {
        let not_found = |shell| {
            problem(
                shell,
                StatusCode::NOT_FOUND,
                "Not found",
                "No such execution in this account.",
            )
        };
        let Ok(id) = ExecutionId::parse(&id) else {
            return not_found(shell);
        };
        match state.store.execution(session.key.account_id, id).await {
            Ok(execution) => {
                shell.page = "execution";
                shell.module = Some("viewer");
                shell.title = format!("{} · {}", execution.job.key, execution.status);
                html(
                    StatusCode::OK,
                    &ExecutionPage {
                        shell,
                        execution: execution.into(),
                    },
                )
            }
            Err(StoreError::NotFound { .. }) => not_found(shell),
            Err(error) => ApiError::from(error).into_response(),
        }
    })
    .await
}

/// `/console/operations/{operationId}`: the operation's chart, items and statistics.
pub(super) async fn operation(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path(operation): Path<String>,
) -> Response {
    section_page(&state, &headers, &uri, 2, async |mut shell, _| {
        let Ok(operation) = OperationId::parse(&operation) else {
            return problem(
                shell,
                StatusCode::NOT_FOUND,
                "Not found",
                "An operation id is a GUID.",
            );
        };
        shell.page = "operation";
        shell.module = Some("operations");
        shell.title = format!("Operation {operation}");
        html(
            StatusCode::OK,
            &OperationPage {
                shell,
                operation: operation.to_string(),
            },
        )
    })
    .await
}
