//! `/openapi.json` and `/docs`: the document covers every route the server registers, with
//! its methods, and every operation it lists is served.

use std::collections::BTreeSet;
use std::path::Path;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::app::TestApp;

/// Every `(path, method)` registered with `.route(...)` in the server's sources, the web
/// console's pages apart.
fn registered_routes() -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    let mut files = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(
                std::fs::read_dir(&path)
                    .unwrap()
                    .map(|entry| entry.unwrap().path()),
            );
            continue;
        }
        if path.extension().is_none_or(|extension| extension != "rs") {
            continue;
        }
        let source = std::fs::read_to_string(&path).unwrap();
        let mut rest = source.as_str();
        while let Some(start) = rest.find(".route(") {
            let call = &rest[start + ".route(".len()..];
            // The call's arguments: up to the parenthesis that closes it.
            let mut depth = 1;
            let end = call
                .char_indices()
                .find_map(|(index, c)| {
                    match c {
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        _ => {}
                    }
                    (depth == 0).then_some(index)
                })
                .unwrap();
            let arguments = &call[..end];
            rest = &call[end..];
            let Some(open) = arguments.find('"') else {
                continue;
            };
            let close = open + 1 + arguments[open + 1..].find('"').unwrap();
            let route = &arguments[open + 1..close];
            // The web console's pages are HTML for browsers, not API operations
            // (tests/it/console.rs covers them).
            if route == "/console" || route.starts_with("/console/") {
                continue;
            }
            for method in ["get", "post", "put", "delete", "patch"] {
                let called = arguments
                    .match_indices(&format!("{method}("))
                    .any(|(index, _)| {
                        !arguments[..index].ends_with(|c: char| c.is_alphanumeric() || c == '_')
                    });
                if called {
                    routes.insert((route.to_owned(), method.to_owned()));
                }
            }
        }
    }
    routes
}

fn documented_routes(document: &Value) -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "delete", "patch"] {
            if item.get(method).is_some() {
                routes.insert((path.clone(), method.to_owned()));
            }
        }
    }
    routes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_covers_every_registered_route_and_only_those() {
    let app = TestApp::spawn().await;
    let document = app.openapi_document().await;
    assert_eq!(document["openapi"], "3.1.0");
    let schemes = &document["components"]["securitySchemes"];
    assert_eq!(schemes["api_key"]["name"], "X-Api-Key", "{schemes}");
    assert_eq!(schemes["bearer"]["scheme"], "bearer", "{schemes}");

    // Every reference resolves, and operation ids are unique (client generators need both).
    let text = document.to_string();
    let schemas = document["components"]["schemas"].as_object().unwrap();
    for reference in text.split("\"#/components/schemas/").skip(1) {
        let name = &reference[..reference.find('"').unwrap()];
        assert!(
            schemas.contains_key(name),
            "a $ref to the undefined schema {name}"
        );
    }
    let mut ids = BTreeSet::new();
    for item in document["paths"].as_object().unwrap().values() {
        for operation in item.as_object().unwrap().values() {
            let id = operation["operationId"].as_str().unwrap();
            assert!(
                ids.insert(id.to_owned()),
                "the operation id {id} is used twice"
            );
        }
    }

    let registered = registered_routes();
    assert!(
        registered.len() > 30,
        "the source scan found the routes: {registered:?}"
    );
    let documented = documented_routes(&document);
    let missing: Vec<_> = registered.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "routes missing from the document: {missing:?}"
    );

    // Every documented operation is served: without a key, an authenticated one answers
    // 401, a public one anything but "no route" or "method not allowed".
    for (path, method) in &documented {
        let concrete = path
            .split('/')
            .map(|part| {
                if part.starts_with('{') {
                    "00000000-0000-0000-0000-000000000000"
                } else {
                    part
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let response = app
            .client
            .request(method.clone(), app.url(&concrete))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body = response.text().await.unwrap();
        assert!(
            status != StatusCode::METHOD_NOT_ALLOWED && !body.contains("no route for"),
            "{method} {path} is documented but not served: {status} {body}"
        );
        let operation = &document["paths"][path.as_str()][method.as_str().to_lowercase()];
        if operation.get("security").is_some() {
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} without a key"
            );
            assert!(
                operation["responses"].get("401").is_some(),
                "{method} {path}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_is_served_from_the_binary() {
    let app = TestApp::spawn().await;
    let response = app.client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let page = response.text().await.unwrap();
    assert!(page.contains("swagger-ui"), "{page}");
    for source in page.split("src=\"").skip(1) {
        assert!(
            !source.starts_with("http"),
            "the page loads {source} from elsewhere"
        );
    }
    let script = app
        .client
        .get(app.url("/docs/swagger-ui-bundle.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        script.status(),
        StatusCode::OK,
        "the UI's script is served too"
    );
}
