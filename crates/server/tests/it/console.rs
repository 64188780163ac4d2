//! The web console over HTTP: signing in and out, the session cookie standing in for the
//! key (with its CSRF token for changes), pages for what the key may read and nothing of
//! another account's, the security headers, and the compiled-in assets. The browser tests
//! (`crates/cli/tests/it/console.rs`) drive the pages themselves.

use reqwest::header::{CONTENT_SECURITY_POLICY, COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Method, Response, StatusCode, redirect};
use serde_json::json;

use crate::app::{ADMIN_KEY, TestApp, expect_error, expect_status};

/// A browser: no automatic redirects, cookies kept by hand.
struct Browser {
    client: reqwest::Client,
    base: String,
    cookies: Vec<(String, String)>,
}

impl Browser {
    fn new(app: &TestApp) -> Browser {
        Browser {
            client: reqwest::Client::builder()
                .redirect(redirect::Policy::none())
                .build()
                .unwrap(),
            base: app.base.clone(),
            cookies: Vec::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Keeps what `Set-Cookie` says (a `Max-Age=0` removes).
    fn remember(&mut self, response: &Response) {
        for value in response.headers().get_all(SET_COOKIE) {
            let text = value.to_str().unwrap();
            let (pair, attributes) = text.split_once(';').unwrap_or((text, ""));
            let (name, value) = pair.split_once('=').unwrap();
            self.cookies.retain(|(kept, _)| kept != name);
            if !attributes.contains("Max-Age=0") {
                self.cookies.push((name.to_owned(), value.to_owned()));
            }
        }
    }

    async fn send(&mut self, method: Method, path: &str, body: Option<String>) -> Response {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header());
        if let Some(body) = body {
            request = request
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body);
        }
        let response = request.send().await.unwrap();
        self.remember(&response);
        response
    }

    async fn get(&mut self, path: &str) -> Response {
        self.send(Method::GET, path, None).await
    }

    async fn page(&mut self, path: &str) -> String {
        let response = self.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        response.text().await.unwrap()
    }

    /// Signs in with `key` through the form; the answer to the form's POST.
    async fn sign_in(&mut self, key: &str, next: &str) -> Response {
        let form = self.page("/console/login").await;
        let csrf = hidden(&form, "csrf");
        let body = form_body(&[("key", key), ("csrf", &csrf), ("next", next)]);
        self.send(Method::POST, "/console/login", Some(body)).await
    }

    /// The session's CSRF token, from a page's `<meta>`.
    async fn csrf(&mut self) -> String {
        let page = self.page("/console/executions").await;
        attribute_after(&page, "name=\"pipelog-csrf\" content=\"")
    }
}

fn form_body(fields: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
}

fn attribute_after(page: &str, marker: &str) -> String {
    let start = page
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} in {page}"))
        + marker.len();
    page[start..].split('"').next().unwrap().to_owned()
}

fn hidden(page: &str, name: &str) -> String {
    attribute_after(page, &format!("name=\"{name}\" value=\""))
}

fn location(response: &Response) -> &str {
    response.headers()[LOCATION].to_str().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_gives_a_session_cookie_that_is_not_the_key() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);

    // Without a session, pages send the browser to sign in and back.
    let response = browser.get("/console/audit?x=1").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&response),
        "/console/login?next=%2Fconsole%2Faudit%3Fx%3D1"
    );

    // A wrong key is refused on the form, which says why.
    let refused = browser
        .sign_in("pl_not_a_key_of_this_server_000000", "/console/audit")
        .await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("That key is not valid")
    );
    assert!(
        !browser
            .cookies
            .iter()
            .any(|(name, _)| name == "pipelog_session")
    );

    // The right one lands where the browser was going, with a session cookie.
    let signed_in = browser.sign_in(ADMIN_KEY, "/console/audit").await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&signed_in), "/console/audit");
    let cookie = signed_in
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .find(|value| value.starts_with("pipelog_session="))
        .unwrap();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(
        !cookie.contains(ADMIN_KEY) && !cookie.contains("Secure"),
        "{cookie}"
    );
    let page = browser.page("/console/audit").await;
    assert!(!page.contains(ADMIN_KEY));
    assert!(page.contains("<script type=\"module\" src=\"/console/assets/audit.js\">"));

    // Signed in, the form goes straight on; an outside `next` is ignored.
    let response = browser.get("/console/login?next=//evil.example/").await;
    assert_eq!(location(&response), "/console/executions");
    let mut other = Browser::new(&app);
    let response = other.sign_in(ADMIN_KEY, "https://evil.example/").await;
    assert_eq!(location(&response), "/console/executions");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sign_in_form_needs_its_own_token() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    // A form posted from elsewhere carries no token cookie of this browser's.
    let body = form_body(&[("key", ADMIN_KEY), ("csrf", "forged")]);
    let response = browser
        .send(Method::POST, "/console/login", Some(body))
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(
        !browser
            .cookies
            .iter()
            .any(|(name, _)| name == "pipelog_session")
    );
    // With the cookie, a token other than the form's is refused too.
    browser.page("/console/login").await;
    let body = form_body(&[("key", ADMIN_KEY), ("csrf", "forged")]);
    let response = browser
        .send(Method::POST, "/console/login", Some(body))
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_calls_the_api_as_its_key_with_csrf_for_changes() {
    let app = TestApp::spawn().await;
    let key = app.key("acme", &["JOBS_READ", "JOBS_EXECUTE"]).await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&key, "/console/executions").await;
    let csrf = browser.csrf().await;

    let launch = |csrf: Option<&str>| {
        let mut request = browser
            .client
            .post(format!("{}/v1/executions", browser.base))
            .header(COOKIE, browser.cookie_header())
            .json(&json!({"jobKey": "from-the-console"}));
        if let Some(csrf) = csrf {
            request = request.header("X-CSRF-Token", csrf);
        }
        request.send()
    };
    expect_error(
        launch(None).await.unwrap(),
        StatusCode::FORBIDDEN,
        "X-CSRF-Token",
    )
    .await;
    expect_error(
        launch(Some(&"0".repeat(64))).await.unwrap(),
        StatusCode::FORBIDDEN,
        "X-CSRF-Token",
    )
    .await;
    let launched = expect_status(launch(Some(&csrf)).await.unwrap(), StatusCode::CREATED).await;

    // Reads need no token, and see the key's account only.
    let listed = browser.get("/v1/executions").await;
    let listed = expect_status(listed, StatusCode::OK).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert_eq!(listed["data"][0]["id"], launched["id"]);
    // What the key may not do, the session may not either.
    expect_error(
        browser.get("/v1/audit_logs").await,
        StatusCode::FORBIDDEN,
        "AUDIT_LOGS_READ",
    )
    .await;
    let audit_page = browser.get("/console/audit").await;
    assert_eq!(audit_page.status(), StatusCode::FORBIDDEN);
    assert!(audit_page.text().await.unwrap().contains("AUDIT_LOGS_READ"));
    let nav = browser.page("/console/executions").await;
    assert!(nav.contains("href=\"/console/executions\""));
    for hidden in ["/console/audit", "/console/operations", "/console/keys"] {
        assert!(
            !nav.contains(&format!("href=\"{hidden}\"")),
            "{hidden} in {nav}"
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_or_revoking_the_key_ends_the_session() {
    let app = TestApp::spawn().await;
    let created = app.key_with_limit("acme", &["JOBS_READ"], Some(0)).await;
    let key = created["key"].as_str().unwrap();
    let mut browser = Browser::new(&app);
    browser.sign_in(key, "/console/executions").await;
    let old_cookies = browser.cookie_header();
    let csrf = browser.csrf().await;

    // Signing out takes the session's token.
    let refused = browser
        .send(
            Method::POST,
            "/console/logout",
            Some(form_body(&[("csrf", "wrong")])),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let out = browser
        .send(
            Method::POST,
            "/console/logout",
            Some(form_body(&[("csrf", &csrf)])),
        )
        .await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&out), "/console/login");
    assert!(
        browser
            .cookies
            .iter()
            .all(|(name, _)| name != "pipelog_session")
    );
    // The old cookie opens nothing any more.
    let stale = app
        .client
        .get(app.url("/v1/executions"))
        .header(COOKIE, &old_cookies)
        .send()
        .await
        .unwrap();
    expect_error(stale, StatusCode::UNAUTHORIZED, "sign in again").await;

    // Revoking the key ends its sessions at once.
    browser.sign_in(key, "/console/executions").await;
    assert_eq!(browser.get("/v1/executions").await.status(), StatusCode::OK);
    let id = created["id"].as_str().unwrap();
    expect_status(
        app.delete(&format!("/v1/keys/{id}"), ADMIN_KEY).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        browser.get("/v1/executions").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        browser.get("/console/executions").await.status(),
        StatusCode::SEE_OTHER
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_escape_what_users_wrote_and_show_nothing_of_other_accounts() {
    let app = TestApp::spawn().await;
    let a = app.full_key("account-a").await;
    let b = app.full_key("account-b").await;
    let hostile = "<script>alert(1)</script>\"'&";
    let id = app.launch_id(&a, hostile).await;

    let mut browser_a = Browser::new(&app);
    browser_a.sign_in(&a, "/console/executions").await;
    let response = browser_a.get(&format!("/console/executions/{id}")).await;
    let csp = response.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self';") && !csp.contains("unsafe"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    let page = response.text().await.unwrap();
    assert!(!page.contains("<script>alert"), "{page}");
    assert!(
        page.contains("&#60;script&#62;alert(1)&#60;/script&#62;")
            || page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{page}"
    );
    assert!(page.contains(&format!("data-execution-id=\"{id}\"")));

    let mut browser_b = Browser::new(&app);
    browser_b.sign_in(&b, "/console/executions").await;
    let response = browser_b.get(&format!("/console/executions/{id}")).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let page = response.text().await.unwrap();
    assert!(
        !page.contains("alert(1)") && page.contains("No such execution"),
        "{page}"
    );
    // B's session reads B's data only, through the API as well.
    let logs = browser_b.get(&format!("/v1/executions/{id}/logs")).await;
    assert_eq!(logs.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assets_are_compiled_in_and_revalidated() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    let script = browser.get("/console/assets/common.js").await;
    assert_eq!(script.status(), StatusCode::OK);
    assert_eq!(
        script.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(script.headers()["cache-control"], "no-cache");
    let etag = script.headers()["etag"].to_str().unwrap().to_owned();
    assert!(
        script
            .text()
            .await
            .unwrap()
            .contains("export async function api(")
    );
    let again = browser
        .client
        .get(app.url("/console/assets/common.js"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    let css = browser.get("/console/assets/console.css").await;
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    for missing in ["/console/assets/nope.js", "/console/assets/..%2Fapp.rs"] {
        assert_eq!(
            browser.get(missing).await.status(),
            StatusCode::NOT_FOUND,
            "{missing}"
        );
    }
    app.stop().await;
}
