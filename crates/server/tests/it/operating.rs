//! The operating log (seed 004): writing items one by one and in batches, every query
//! parameter and scope against a fixture of operations with two publishers and three
//! consumers, data-agent keys, and the seed's own request and response examples.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::app::{TestApp, expect_error, expect_status};

pub(crate) const PATH: &str = "/api/v1/OperatingLogs";

// The fixture's sources: two publishers, the platform, three consumers.
pub(crate) const P1: &str = "11111111-0000-4000-8000-000000000001";
pub(crate) const P2: &str = "11111111-0000-4000-8000-000000000002";
pub(crate) const PLATFORM: &str = "22222222-0000-4000-8000-000000000001";
pub(crate) const C1: &str = "33333333-0000-4000-8000-000000000001";
pub(crate) const C2: &str = "33333333-0000-4000-8000-000000000002";
pub(crate) const C3: &str = "33333333-0000-4000-8000-000000000003";
pub(crate) const OP_A: &str = "aaaaaaaa-0000-4000-8000-00000000000a";
pub(crate) const OP_B: &str = "bbbbbbbb-0000-4000-8000-00000000000b";
pub(crate) const OP_C: &str = "cccccccc-0000-4000-8000-00000000000c";

pub(crate) async fn post_item(app: &TestApp, key: &str, body: Value) -> Value {
    expect_status(app.post(PATH, key, body).await, StatusCode::CREATED).await
}

async fn query(app: &TestApp, key: &str, parameters: &str) -> Value {
    expect_status(
        app.get(&format!("{PATH}?{parameters}"), key).await,
        StatusCode::OK,
    )
    .await
}

/// How many items a query selects, checking that `items` agrees on a page that holds all.
async fn count(app: &TestApp, key: &str, parameters: &str) -> u64 {
    let page = query(app, key, &format!("{parameters}&limit=1000")).await;
    let total = page["totalCount"].as_u64().unwrap();
    assert_eq!(
        page["items"].as_array().unwrap().len() as u64,
        total,
        "{parameters}"
    );
    total
}

fn at(second: u32, millis: u32) -> String {
    format!("2026-11-20T10:00:{second:02}.{millis:03}Z")
}

fn item(operation: &str, kind: &str, activity: Option<&str>, source: &str, time: String) -> Value {
    let mut item = json!({
        "operationId": operation,
        "operationType": kind,
        "severity": "Info",
        "source": format!("svc-{}", &source[source.len() - 1..]),
        "sourceId": source,
        "utcTimestamp": time,
    });
    if let Some(activity) = activity {
        item["activityType"] = json!(activity);
    }
    item
}

/// Writes the fixture as one batch: operation A (publisher P1, the platform, consumers C1
/// and C2, with a system-level warning and a failed validation), operation B (publisher P2,
/// consumer C3), operation C (agent status and coordination). 20 items.
pub(crate) async fn write_fixture(app: &TestApp, key: &str) {
    let scoped = |mut item: Value, scope: &str| {
        item["scopeId"] = json!(scope);
        item
    };
    let feedback = |mut item: Value, publisher: &str| {
        item["publisherSourceId"] = json!(publisher);
        item
    };
    let mut system = item(
        OP_A,
        "Transform",
        Some("ProcessingResult"),
        PLATFORM,
        at(0, 700),
    );
    system["systemLevel"] = json!(true);
    system["customCategory"] = json!("MappingTransformation");
    system["severity"] = json!("Warning");
    system["message"] = json!("Field 'Email' mapped to a default");
    let mut rejected = feedback(
        item(OP_A, "ConsumeData", Some("Validation"), C2, at(1, 300)),
        P1,
    );
    rejected["severity"] = json!("Error");
    rejected["message"] = json!("Record 456 rejected: field 'Email' is invalid.");
    let mut late_finish = feedback(
        item(
            OP_A,
            "ConsumeData",
            Some("Application|Finish"),
            C2,
            at(2, 0),
        ),
        P1,
    );
    late_finish["severity"] = json!("Warning");
    let items = vec![
        // Operation A: publisher P1.
        item(OP_A, "InputData", Some("Application|Start"), P1, at(0, 0)),
        scoped(
            item(OP_A, "InputData", Some("Application|Begin"), P1, at(0, 100)),
            "upload",
        ),
        scoped(
            item(OP_A, "InputData", Some("Application|End"), P1, at(0, 400)),
            "upload",
        ),
        item(
            OP_A,
            "InputData",
            Some("Application|Finish"),
            P1,
            at(0, 500),
        ),
        // The platform.
        system,
        item(
            OP_A,
            "Transform",
            Some("ProcessingResult"),
            PLATFORM,
            at(0, 800),
        ),
        // Consumer C1, notified.
        feedback(
            item(OP_A, "ConsumeData", Some("Application|Ack"), C1, at(1, 0)),
            P1,
        ),
        feedback(
            scoped(
                item(
                    OP_A,
                    "ConsumeData",
                    Some("Application|Begin"),
                    C1,
                    at(1, 100),
                ),
                "load",
            ),
            P1,
        ),
        feedback(
            scoped(
                item(OP_A, "ConsumeData", Some("Application|End"), C1, at(1, 500)),
                "load",
            ),
            P1,
        ),
        feedback(
            item(
                OP_A,
                "ConsumeData",
                Some("Application|Finish"),
                C1,
                at(1, 600),
            ),
            P1,
        ),
        // Consumer C2, querying; rejects a record.
        feedback(
            item(
                OP_A,
                "ConsumeData",
                Some("Application|Start"),
                C2,
                at(1, 200),
            ),
            P1,
        ),
        rejected,
        late_finish,
        // Operation B: publisher P2, consumer C3.
        item(OP_B, "InputData", Some("Application|Start"), P2, at(5, 0)),
        item(
            OP_B,
            "InputData",
            Some("Application|Finish"),
            P2,
            at(5, 250),
        ),
        feedback(
            item(OP_B, "ConsumeData", Some("Application|Ack"), C3, at(5, 400)),
            P2,
        ),
        feedback(
            item(
                OP_B,
                "ConsumeData",
                Some("Application|Finish"),
                C3,
                at(6, 0),
            ),
            P2,
        ),
        // Operation C: an agent's status and a coordination handshake.
        item(OP_C, "AgentStatus", None, C3, at(7, 0)),
        item(OP_C, "Coordination", Some("ActionRequest"), C1, at(7, 100)),
        item(OP_C, "Coordination", Some("ActionResponse"), C2, at(7, 200)),
    ];
    let response = app
        .post(&format!("{PATH}/batch"), key, Value::Array(items))
        .await;
    let created = expect_status(response, StatusCode::CREATED).await;
    assert_eq!(created["items"].as_array().unwrap().len(), 20);
}

#[tokio::test]
async fn a_created_item_is_answered_whole_with_its_location() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme").await;
    let response = app
        .post(
            PATH,
            &key,
            json!({
                "operationId": OP_A,
                "operationType": "ConsumeData",
                "activityType": "Application|Finish",
                "scopeId": null,
                "severity": "Info",
                "systemLevel": false,
                "customCategory": null,
                "message": "Explain to user what happened, if event was consumed or not.",
                "details": ["Optionally you can write more details here."],
                "customFields": [{ "key": "MyKey", "value": "MyValue" }],
                "source": "MyService",
                "sourceId": C1,
                "publisherSourceId": P1
            }),
        )
        .await;
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let created = expect_status(response, StatusCode::CREATED).await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(location, format!("/api/v1/OperatingLogs/{id}"));
    assert_eq!(created["operationId"], OP_A);
    assert_eq!(created["operationType"], "ConsumeData");
    assert_eq!(created["activityType"], "Application|Finish");
    assert_eq!(created["category"], "Custom");
    assert_eq!(created["systemLevel"], false);
    assert_eq!(
        created["details"],
        json!(["Optionally you can write more details here."])
    );
    assert_eq!(
        created["customFields"],
        json!([{ "key": "MyKey", "value": "MyValue" }])
    );
    assert_eq!(created["publisherSourceId"], P1);
    assert!(created["createdOn"].as_str().unwrap().ends_with('Z'));
    // Fields without a value are left out, as in the seed's sample responses.
    assert!(created.get("scopeId").is_none() && created.get("utcTimestamp").is_none());

    let shown = expect_status(app.get(&location, &key).await, StatusCode::OK).await;
    assert_eq!(shown, created);

    // A custom category is prefixed; an operation id is made when none is given.
    let made = post_item(
        &app,
        &key,
        json!({"operationType": "Transform", "activityType": "ProcessingResult",
               "severity": "Error", "message": "Processing failed.",
               "details": ["Primary key missing in record 123.", "Import aborted."],
               "customCategory": "ABC"}),
    )
    .await;
    assert_eq!(made["category"], "Custom|ABC");
    assert!(made["operationId"].as_str().unwrap().len() == 36);
}

#[tokio::test]
async fn the_seeds_sample_bodies_are_accepted_verbatim() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme").await;
    // The seed's Begin sample names scopeId twice; the last one counts, as in .NET.
    let begin = format!(
        r#"{{
"operationId": "{OP_A}",
"operationType": "ConsumeData",
"activityType": "Application|Begin",
"scopeId": "<unique identifier representing scope>",
"severity": "Info",
"source": "ASOLEU-DataIntegrationExample2-AP-",
"sourceId": "{C1}",
"scopeId": "EKqjYYBKTEeuGcBM5Miazw"
}}"#
    );
    let response = app
        .request(Method::POST, PATH, &key)
        .header("content-type", "application/json")
        .body(begin)
        .send()
        .await
        .unwrap();
    let created = expect_status(response, StatusCode::CREATED).await;
    assert_eq!(created["scopeId"], "EKqjYYBKTEeuGcBM5Miazw");
    assert_eq!(created["category"], "Custom");

    // The curl example, with a bearer token and the body exactly as escaped there.
    let response = app
        .client
        .post(app.url(PATH))
        .header("Authorization", format!("Bearer {key}"))
        .header("Content-Type", "application/json")
        .body(format!("{{\"operationId\":\"{OP_B}\",\"operationType\":\"ConsumeData\",\"activityType\":\"Application|Finish\",\"severity\":\"Info\",\"systemLevel\":false,\"message\":\"Explain to user what happened.\"}}"))
        .send()
        .await
        .unwrap();
    let created = expect_status(response, StatusCode::CREATED).await;
    assert_eq!(created["message"], "Explain to user what happened.");

    // The Validation example, and PascalCase field names as a .NET client may send them.
    let validation = post_item(
        &app,
        &key,
        json!({
            "OperationId": OP_A, "OperationType": "ConsumeData", "ActivityType": "Validation",
            "Severity": "Warning", "Message": "Record 456 rejected: field 'Email' is invalid.",
            "Source": "MyConsumer", "SourceId": C2, "PublisherSourceId": P1
        }),
    )
    .await;
    assert_eq!(validation["severity"], "Warning");
    assert_eq!(validation["sourceId"], C2);
}

#[tokio::test]
async fn bad_items_are_refused_naming_the_field_and_batches_are_all_or_nothing() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme").await;
    let cases = [
        (
            json!({"operationType": "InputData", "operationId": "not-a-guid"}),
            "`operationId`",
        ),
        (
            json!({"operationType": "Load"}),
            "unknown operation type `Load`",
        ),
        (json!({"severity": "Info"}), "`operationType`: is required"),
        (
            json!({"operationType": "InputData", "activityType": "Application|Ack"}),
            "`activityType`: Application|Ack is not logged in operation type InputData",
        ),
        (
            json!({"operationType": "InputData", "activityType": "Application|Begin"}),
            "`scopeId`: is required",
        ),
        (
            json!({"operationType": "Transform", "activityType": "ActionRequest"}),
            "`activityType`",
        ),
        (
            json!({"operationType": "InputData", "severity": "Fatal"}),
            "unknown severity `Fatal`",
        ),
        (
            json!({"operationType": "Transform", "systemLevel": true, "customCategory": "ABC"}),
            "`customCategory`",
        ),
        (
            json!({"operationType": "InputData", "utcTimestamp": "yesterday"}),
            "`utcTimestamp`",
        ),
        (
            json!(["not", "an", "item"]),
            "expected an operating log item",
        ),
    ];
    for (body, needle) in cases {
        expect_error(
            app.post(PATH, &key, body).await,
            StatusCode::BAD_REQUEST,
            needle,
        )
        .await;
    }

    let batch = json!([
        {"operationId": OP_A, "operationType": "InputData", "activityType": "Application|Start"},
        {"operationId": OP_A, "operationType": "InputData", "severity": "Loud"}
    ]);
    expect_error(
        app.post(&format!("{PATH}/batch"), &key, batch).await,
        StatusCode::BAD_REQUEST,
        "`[1].severity`",
    )
    .await;
    let batch = json!([
        {"operationId": OP_A, "operationType": "InputData", "activityType": "Application|Start"},
        {"operationId": OP_A, "operationType": "InputData", "activityType": "Application|End"}
    ]);
    expect_error(
        app.post(&format!("{PATH}/batch"), &key, batch).await,
        StatusCode::BAD_REQUEST,
        "`[1].scopeId`",
    )
    .await;
    expect_error(
        app.post(&format!("{PATH}/batch"), &key, json!([])).await,
        StatusCode::BAD_REQUEST,
        "a batch holds 1 to 1000 items",
    )
    .await;
    // Nothing of the refused batches was written.
    assert_eq!(count(&app, &key, "includeSystemLevel=true").await, 0);
}

#[tokio::test]
async fn every_scope_and_filter_selects_what_spec_says() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme").await;
    write_fixture(&app, &key).await;

    // Without a filter: every application-level item; system-level ones on request.
    assert_eq!(count(&app, &key, "").await, 19);
    assert_eq!(count(&app, &key, "includeSystemLevel=true").await, 20);
    assert_eq!(count(&app, &key, &format!("operationId={OP_A}")).await, 12);
    assert_eq!(
        count(
            &app,
            &key,
            &format!("operationId={OP_A}&includeSystemLevel=true")
        )
        .await,
        13
    );

    // Scopes of operation A.
    let scope =
        |name: &str, extra: &str| format!("operationScope={name}&operationId={OP_A}{extra}");
    assert_eq!(count(&app, &key, &scope("PublishData", "")).await, 5);
    assert_eq!(
        count(
            &app,
            &key,
            &scope("PublishData", "&includeSystemLevel=true")
        )
        .await,
        6
    );
    assert_eq!(
        count(
            &app,
            &key,
            &scope(
                "PublishDataWithConsumerFeedback",
                "&includeSystemLevel=true"
            )
        )
        .await,
        13
    );
    assert_eq!(
        count(&app, &key, &scope("ConsumerFeedbackOnly", "")).await,
        7
    );
    assert_eq!(
        count(
            &app,
            &key,
            &scope("ConsumerFeedbackOnly", "&severityLevel=Warning")
        )
        .await,
        2
    );
    assert_eq!(count(&app, &key, &scope("ConsumeData", "")).await, 7);
    assert_eq!(
        count(
            &app,
            &key,
            &format!("operationScope=AgentStatus&operationId={OP_C}")
        )
        .await,
        1
    );
    assert_eq!(count(&app, &key, "operationScope=Coordination").await, 2);

    // Severity is a minimum.
    assert_eq!(
        count(&app, &key, "severityLevel=Warning&includeSystemLevel=true").await,
        3
    );
    assert_eq!(count(&app, &key, "severityLevel=error").await, 1);

    // A publisher's view takes in the feedback of consumers it published to; the
    // consumer's view only what the consumer wrote.
    assert_eq!(
        count(
            &app,
            &key,
            &format!("operationScope=PublishData&sourceId={P1}")
        )
        .await,
        4
    );
    assert_eq!(
        count(
            &app,
            &key,
            &format!("operationScope=PublishDataWithConsumerFeedback&sourceId={P1}")
        )
        .await,
        11
    );
    assert_eq!(
        count(
            &app,
            &key,
            &format!("operationScope=ConsumerFeedbackOnly&sourceId={P2}")
        )
        .await,
        2
    );
    assert_eq!(
        count(
            &app,
            &key,
            &format!("operationScope=ConsumeData&sourceId={C2}&createdFrom=2000-01-01T00:00:00Z")
        )
        .await,
        3
    );
    assert_eq!(count(&app, &key, &format!("sourceId={C1}")).await, 5);

    // Time bounds on createdOn: everything was created just now. A date-time without an
    // offset is taken as UTC.
    assert_eq!(
        count(&app, &key, "createdFrom=2000-01-01T00:00:00").await,
        19
    );
    assert_eq!(count(&app, &key, "createdTo=2000-01-01").await, 0);
    assert_eq!(
        count(&app, &key, "createdFrom=2999-01-01T00:00:00Z").await,
        0
    );

    // Paging: oldest first, offset and limit, totalCount the whole selection.
    let all = query(&app, &key, &format!("operationId={OP_A}")).await;
    let page = query(&app, &key, &format!("operationId={OP_A}&offset=10&limit=5")).await;
    assert_eq!(page["totalCount"], 12);
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert_eq!(page["items"][0], all["items"][10]);
    let none = query(&app, &key, &format!("operationId={OP_A}&limit=0")).await;
    assert_eq!(
        (
            none["totalCount"].as_u64(),
            none["items"].as_array().unwrap().len()
        ),
        (Some(12), 0)
    );
    let first = &all["items"][0];
    assert_eq!(first["activityType"], "Application|Start");
    assert_eq!(first["utcTimestamp"], "2026-11-20T10:00:00.000Z");

    // An operation nobody logged: an empty list, not an error.
    let nobody = query(
        &app,
        &key,
        "operationId=99999999-0000-4000-8000-000000000099",
    )
    .await;
    assert_eq!(nobody, json!({"totalCount": 0, "items": []}));
}

#[tokio::test]
async fn the_seeds_queries_work_verbatim_and_names_ignore_case() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme").await;
    write_fixture(&app, &key).await;
    let seed_queries = [
        (
            format!("operationScope=PublishData&sourceId={P1}&offset=0&limit=50"),
            4,
        ),
        (
            format!(
                "operationScope=PublishDataWithConsumerFeedback&operationId={OP_A}&includeSystemLevel=true"
            ),
            13,
        ),
        (
            format!("operationScope=ConsumerFeedbackOnly&operationId={OP_A}&severityLevel=Warning"),
            2,
        ),
        (
            format!("operationScope=ConsumeData&sourceId={C1}&createdFrom=2026-01-01T00:00:00Z"),
            4,
        ),
        (format!("operationScope=Coordination&operationId={OP_C}"), 2),
        (
            format!(
                "OperationId={OP_A}&IncludeSystemLevel=true&SeverityLevel=Warning&Offset=0&Limit=50"
            ),
            3,
        ),
        (
            format!(
                "OperationId={OP_A}&IncludeSystemLevel=false&SeverityLevel=Warning&Offset=0&Limit=50"
            ),
            2,
        ),
    ];
    for (parameters, expected) in seed_queries {
        let response = app
            .client
            .get(app.url(&format!("{PATH}?{parameters}")))
            .header("Authorization", format!("Bearer {key}"))
            .send()
            .await
            .unwrap();
        let page = expect_status(response, StatusCode::OK).await;
        assert_eq!(page["totalCount"], expected, "{parameters}");
    }
}

#[tokio::test]
async fn bad_queries_are_refused_naming_the_parameter() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme").await;
    let cases = [
        (
            "operationId=123",
            "query parameter `operationId`: expected a GUID",
        ),
        ("sourceId=abc", "query parameter `sourceId`"),
        ("agentId={x}", "query parameter `agentId`"),
        (
            "operationScope=Everything",
            "unknown operation scope `Everything`",
        ),
        ("severityLevel=Critical", "unknown severity `Critical`"),
        (
            "includeSystemLevel=maybe",
            "query parameter `includeSystemLevel`: expected true or false",
        ),
        ("createdFrom=last+week", "query parameter `createdFrom`"),
        (
            "createdFrom=2026-02-01T00:00:00Z&createdTo=2026-01-01T00:00:00Z",
            "is before createdFrom",
        ),
        ("operationScope=ConsumeData", "needs a time window"),
        (
            "limit=1001",
            "query parameter `limit`: expected a whole number from 0 to 1000",
        ),
        ("offset=-1", "query parameter `offset`"),
        ("offset=1000001", "query parameter `offset`"),
        ("limit=5&Limit=6", "given more than once"),
    ];
    for (parameters, needle) in cases {
        expect_error(
            app.get(&format!("{PATH}?{parameters}"), &key).await,
            StatusCode::BAD_REQUEST,
            needle,
        )
        .await;
    }
}

#[tokio::test]
async fn a_data_agents_key_fills_in_the_agent() {
    let app = TestApp::spawn().await;
    let admin = app.full_key("acme").await;
    let agent = "44444444-0000-4000-8000-000000000004";
    let created = expect_status(
        app.post(
            "/v1/keys",
            &admin,
            json!({"permissions": ["OPERATING_LOGS_WRITE", "OPERATING_LOGS_READ"], "rateLimit": 0,
                   "agent": {"agentId": agent, "agentCode": "ERP-EU", "sourceId": C1}}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(created["agent"]["agentCode"], "ERP-EU");
    let agent_key = created["key"].as_str().unwrap();

    let written = post_item(
        &app,
        agent_key,
        json!({"operationId": OP_A, "operationType": "ConsumeData",
               "activityType": "Application|Start", "severity": "Info"}),
    )
    .await;
    assert_eq!(written["agentId"], agent);
    assert_eq!(written["agentCode"], "ERP-EU");
    assert_eq!(written["sourceId"], C1);
    // A source named in the item wins over the agent's default one.
    let other_source = post_item(
        &app,
        agent_key,
        json!({"operationType": "AgentStatus", "sourceId": C2, "agentId": agent}),
    )
    .await;
    assert_eq!(other_source["sourceId"], C2);
    expect_error(
        app.post(
            PATH,
            agent_key,
            json!({"operationType": "AgentStatus", "agentId": "44444444-0000-4000-8000-000000000005"}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "`agentId`: this key writes for agent",
    )
    .await;
    // An ordinary key writes the agent it is told.
    post_item(
        &app,
        &admin,
        json!({"operationType": "AgentStatus", "agentId": P2}),
    )
    .await;

    assert_eq!(count(&app, &admin, &format!("agentId={agent}")).await, 2);
    assert_eq!(count(&app, &admin, "agentCode=ERP-EU").await, 2);
    assert_eq!(
        count(
            &app,
            &admin,
            &format!("operationScope=AgentStatus&agentId={P2}")
        )
        .await,
        1
    );
}

#[tokio::test]
async fn another_account_sees_nothing_and_permissions_hold() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme").await;
    write_fixture(&app, &key).await;
    let item = query(&app, &key, "limit=1").await["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let stranger = app.full_key("globex").await;
    assert_eq!(
        count(
            &app,
            &stranger,
            &format!("operationId={OP_A}&includeSystemLevel=true")
        )
        .await,
        0
    );
    assert_eq!(count(&app, &stranger, "includeSystemLevel=true").await, 0);
    for path in [
        format!("{PATH}/{item}"),
        format!("/v1/operations/{OP_A}/statistics"),
        format!("/v1/operations/{OP_A}/gantt"),
    ] {
        expect_error(
            app.get(&path, &stranger).await,
            StatusCode::NOT_FOUND,
            "not found",
        )
        .await;
    }

    let reader = app.key("acme", &["OPERATING_LOGS_READ"]).await;
    expect_error(
        app.post(PATH, &reader, json!({"operationType": "InputData"}))
            .await,
        StatusCode::FORBIDDEN,
        "OPERATING_LOGS_WRITE",
    )
    .await;
    let writer = app.key("acme", &["OPERATING_LOGS_WRITE"]).await;
    expect_error(
        app.get(PATH, &writer).await,
        StatusCode::FORBIDDEN,
        "OPERATING_LOGS_READ",
    )
    .await;
    expect_error(
        app.get(&format!("/v1/operations/{OP_A}/gantt"), &writer)
            .await,
        StatusCode::FORBIDDEN,
        "OPERATING_LOGS_READ",
    )
    .await;
}

/// Items may carry a `clientId`: resent, even in another batch, they are answered as
/// recorded the first time and not recorded again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resent_items_with_a_client_id_are_recorded_once() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme").await;
    let item = |message: &str, id: &str| {
        json!({
            "operationId": OP_A,
            "operationType": "ConsumeData",
            "activityType": "ProcessingResult",
            "message": message,
            "sourceId": C1,
            "clientId": id,
        })
    };
    let batch = |items: Value| async {
        expect_status(
            app.post(&format!("{PATH}/batch"), &key, items).await,
            StatusCode::CREATED,
        )
        .await
    };
    let first = batch(json!([item("one", "c-1"), item("two", "c-2")])).await;
    let resent = batch(json!([
        item("two", "c-2"),
        item("three", "c-3"),
        item("one", "c-1")
    ]))
    .await;
    assert_eq!(resent["items"][0], first["items"][1]);
    assert_eq!(resent["items"][2], first["items"][0]);
    assert_eq!(resent["items"][1]["clientId"], "c-3");
    let single = post_item(&app, &key, item("two", "c-2")).await;
    assert_eq!(single, first["items"][1], "the single route too");
    let listed = query(&app, &key, &format!("operationId={OP_A}")).await;
    assert_eq!(listed["totalCount"], 3);
    app.stop().await;
}
