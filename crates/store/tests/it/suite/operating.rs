//! Operating log items: recorded, listed with the seed's filters, read back per
//! operation, and kept within their account.

use pipelog_core::ids::{Label, OperationId, SourceId};
use pipelog_core::operating::{
    ActivityType, NewOperatingItem, OperatingItemDraft, OperationScope, OperationType,
    StatusSeverity,
};
use pipelog_core::operating_stats::{ComponentFilter, StatisticsAccumulator};
use pipelog_core::paging::{PageLimit, TimeRange};
use pipelog_core::time::UtcTime;
use pipelog_store::{OperatingQuery, OperationPosition, OperationWindow, Store, StoreError};

use super::some_account;

fn item(
    operation: OperationId,
    kind: OperationType,
    activity: Option<ActivityType>,
    source: SourceId,
    at_millis: i64,
) -> NewOperatingItem {
    NewOperatingItem::new(
        OperatingItemDraft {
            operation_id: Some(operation),
            operation_type: Some(kind),
            activity_type: activity,
            source_id: Some(source),
            utc_timestamp: UtcTime::from_unix_millis(at_millis),
            scope_id: matches!(activity, Some(ActivityType::Begin | ActivityType::End))
                .then(|| Label::parse("scope").unwrap()),
            ..OperatingItemDraft::default()
        },
        None,
    )
    .unwrap()
}

fn everything() -> OperatingQuery {
    OperatingQuery {
        include_system_level: true,
        limit: 1000,
        ..OperatingQuery::default()
    }
}

pub async fn items_are_recorded_listed_and_read_back(store: &dyn Store) {
    let account = some_account(store, "acme").await;
    let operation = OperationId::generate();
    let (publisher, consumer) = (SourceId::generate(), SourceId::generate());
    let mut warning = item(
        operation,
        OperationType::ConsumeData,
        Some(ActivityType::Validation),
        consumer,
        1_700_000_002_000,
    );
    warning.severity = StatusSeverity::Warning;
    warning.publisher_source_id = Some(publisher);
    let items = vec![
        item(
            operation,
            OperationType::InputData,
            Some(ActivityType::Start),
            publisher,
            1_700_000_000_000,
        ),
        item(
            operation,
            OperationType::InputData,
            Some(ActivityType::Finish),
            publisher,
            1_700_000_001_000,
        ),
        warning,
    ];
    let recorded = store
        .record_operating_items(account, items.clone())
        .await
        .unwrap();
    assert_eq!(recorded.len(), 3);
    for (stored, given) in recorded.iter().zip(&items) {
        assert_eq!(&stored.item, given);
        assert_eq!(
            store.operating_item(account, stored.id).await.unwrap(),
            *stored
        );
    }

    let page = store
        .list_operating_items(account, everything())
        .await
        .unwrap();
    assert_eq!(page.total, 3);
    assert_eq!(page.items, recorded);

    let feedback = OperatingQuery {
        scope: Some(OperationScope::ConsumerFeedbackOnly),
        source_id: Some(publisher),
        ..everything()
    };
    let page = store.list_operating_items(account, feedback).await.unwrap();
    assert_eq!(page.items, recorded[2..]);
    let warnings = OperatingQuery {
        min_severity: Some(StatusSeverity::Warning),
        ..everything()
    };
    assert_eq!(
        store
            .list_operating_items(account, warnings)
            .await
            .unwrap()
            .total,
        1
    );
    let second = OperatingQuery {
        offset: 1,
        limit: 1,
        ..everything()
    };
    let page = store.list_operating_items(account, second).await.unwrap();
    assert_eq!((page.total, page.items.as_slice()), (3, &recorded[1..2]));

    let timings = store
        .operation_timings(account, operation, 10)
        .await
        .unwrap();
    assert_eq!(timings.len(), 3);
    assert_eq!(timings[0], recorded[0].timing());
    assert_eq!(
        store.operation_items(account, operation, 2).await.unwrap(),
        recorded[..2]
    );
}

/// An item whose client id the account holds (or an earlier item of its batch has) is
/// answered as recorded then, and not recorded again; ids are per account.
pub async fn resent_items_with_a_client_id_are_recorded_once(store: &dyn Store) {
    let account = some_account(store, "acme").await;
    let other = some_account(store, "initech").await;
    let operation = OperationId::generate();
    let source = SourceId::generate();
    let with_id = |at: i64, id: &str| NewOperatingItem {
        client_id: Some(Label::parse(id).unwrap()),
        ..item(operation, OperationType::InputData, None, source, at)
    };
    let first = store
        .record_operating_items(account, vec![with_id(1, "i-1"), with_id(2, "i-2")])
        .await
        .unwrap();
    let resent = store
        .record_operating_items(
            account,
            vec![
                with_id(2, "i-2"),
                with_id(3, "i-3"),
                with_id(3, "i-3"),
                with_id(1, "i-1"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(resent[0], first[1], "answered as recorded the first time");
    assert_eq!(resent[3], first[0]);
    assert_eq!(
        resent[1], resent[2],
        "a repeat in the batch is the first of it"
    );
    assert_eq!(resent[1].item.client_id.as_ref().unwrap().as_str(), "i-3");
    let items = store
        .operation_items(account, operation, 100)
        .await
        .unwrap();
    assert_eq!(items.len(), 3, "i-1, i-2, i-3 once each");
    let read = store.operating_item(account, first[0].id).await.unwrap();
    assert_eq!(read, first[0], "the client id comes back");
    // Another account's ids are its own.
    let theirs = store
        .record_operating_items(other, vec![with_id(1, "i-1")])
        .await
        .unwrap();
    assert_ne!(theirs[0].id, first[0].id);
}

pub async fn statistics_read_the_operations_of_a_period(store: &dyn Store) {
    let account = some_account(store, "acme").await;
    let publisher = SourceId::generate();
    let before = UtcTime::now();
    for span in [100, 200, 300] {
        let operation = OperationId::generate();
        store
            .record_operating_items(
                account,
                vec![
                    item(
                        operation,
                        OperationType::InputData,
                        Some(ActivityType::Start),
                        publisher,
                        1_000,
                    ),
                    item(
                        operation,
                        OperationType::InputData,
                        Some(ActivityType::Finish),
                        publisher,
                        1_000 + span,
                    ),
                ],
            )
            .await
            .unwrap();
    }
    let window = OperationWindow {
        from: before,
        to: UtcTime::from_unix_millis(UtcTime::now().unix_millis() + 1_000).unwrap(),
    };
    assert_eq!(store.count_operations(account, window).await.unwrap(), 3);
    let statistics = store
        .operation_statistics(account, window, ComponentFilter::default())
        .await
        .unwrap();
    let json = serde_json::to_value(&statistics).unwrap();
    assert_eq!(json["operations"], 3, "{json}");
    let publisher_row = &json["components"][0];
    assert_eq!(publisher_row["span"]["count"], 3, "{json}");
    assert_eq!(publisher_row["span"]["medianMs"], 200.0, "{json}");

    let earlier = OperationWindow {
        from: UtcTime::from_unix_millis(0).unwrap(),
        to: UtcTime::from_unix_millis(before.unix_millis() - 1).unwrap(),
    };
    assert_eq!(store.count_operations(account, earlier).await.unwrap(), 0);
}

pub async fn another_account_sees_no_item_or_operation(store: &dyn Store) {
    let acme = some_account(store, "acme").await;
    let globex = some_account(store, "globex").await;
    let operation = OperationId::generate();
    let recorded = store
        .record_operating_items(
            acme,
            vec![item(
                operation,
                OperationType::InputData,
                None,
                SourceId::generate(),
                0,
            )],
        )
        .await
        .unwrap();
    assert!(matches!(
        store.operating_item(globex, recorded[0].id).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.operation_items(globex, operation, 10).await,
        Err(StoreError::NotFound { .. })
    ));
    let theirs = OperatingQuery {
        operation: Some(operation),
        ..everything()
    };
    assert_eq!(
        store
            .list_operating_items(globex, theirs)
            .await
            .unwrap()
            .total,
        0
    );
    assert_eq!(
        store
            .list_operating_items(globex, everything())
            .await
            .unwrap()
            .total,
        0
    );
    // The same operation id in another account is another operation.
    store
        .record_operating_items(
            globex,
            vec![item(
                operation,
                OperationType::InputData,
                None,
                SourceId::generate(),
                0,
            )],
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .operation_items(acme, operation, 10)
            .await
            .unwrap()
            .len(),
        1
    );
}

/// Statistics over a period read each operation's timings from where the store keeps them
/// for that purpose; a long operation's from its items. Both must agree with statistics of
/// the items read one by one.
pub async fn period_statistics_agree_with_the_items_short_or_long(store: &dyn Store) {
    let account = some_account(store, "acme").await;
    let (publisher, consumer) = (SourceId::generate(), SourceId::generate());
    let short = OperationId::generate();
    let long = OperationId::generate();
    let before = UtcTime::now();
    let mut begin = item(
        short,
        OperationType::InputData,
        Some(ActivityType::Begin),
        publisher,
        10,
    );
    begin.scope_id = Some(Label::parse("a scope with a long name, é").unwrap());
    let mut end = begin.clone();
    end.activity_type = Some(ActivityType::End);
    end.utc_timestamp = UtcTime::from_unix_millis(70);
    store
        .record_operating_items(
            account,
            vec![
                item(
                    short,
                    OperationType::InputData,
                    Some(ActivityType::Start),
                    publisher,
                    0,
                ),
                begin,
                end,
                item(
                    short,
                    OperationType::InputData,
                    Some(ActivityType::Finish),
                    publisher,
                    90,
                ),
                item(
                    short,
                    OperationType::Transform,
                    None,
                    SourceId::generate(),
                    95,
                ),
                item(
                    short,
                    OperationType::ConsumeData,
                    Some(ActivityType::Ack),
                    consumer,
                    100,
                ),
            ],
        )
        .await
        .unwrap();
    // Over the size bound of the timings kept per operation, in three batches.
    for batch in 0..3 {
        let items = (0..700)
            .map(|number| {
                let mut validation = item(
                    long,
                    OperationType::ConsumeData,
                    Some(ActivityType::Validation),
                    consumer,
                    1_000 + batch * 700 + number,
                );
                validation.severity = StatusSeverity::Error;
                validation
            })
            .collect();
        store.record_operating_items(account, items).await.unwrap();
    }
    store
        .record_operating_items(
            account,
            vec![item(
                short,
                OperationType::ConsumeData,
                Some(ActivityType::Finish),
                consumer,
                150,
            )],
        )
        .await
        .unwrap();
    let window = OperationWindow {
        from: before,
        to: UtcTime::from_unix_millis(UtcTime::now().unix_millis() + 1_000).unwrap(),
    };
    for filter in [
        ComponentFilter::default(),
        ComponentFilter {
            source_id: Some(consumer),
            operation_type: None,
        },
    ] {
        let mut expected = StatisticsAccumulator::new(filter);
        for operation in [short, long] {
            let timings = store
                .operation_timings(account, operation, 10_000)
                .await
                .unwrap();
            expected.add(operation, &timings);
        }
        let statistics = store
            .operation_statistics(account, window, filter)
            .await
            .unwrap();
        assert_eq!(statistics, expected.finish());
        let consumer_row = statistics
            .components
            .iter()
            .find(|component| component.key.source_id == Some(consumer))
            .unwrap();
        assert_eq!(consumer_row.validation.errors, 2_100);
    }
}

pub async fn recent_operations_page_newest_first(store: &dyn Store) {
    let account = some_account(store, "acme").await;
    let other = some_account(store, "initech").await;
    let source = SourceId::generate();
    let before = UtcTime::now();
    let mut recorded = Vec::new();
    for span in [100, 200, 300] {
        let operation = OperationId::generate();
        let items = vec![
            item(
                operation,
                OperationType::InputData,
                Some(ActivityType::Start),
                source,
                1_000,
            ),
            item(
                operation,
                OperationType::InputData,
                Some(ActivityType::Finish),
                source,
                1_000 + span,
            ),
        ];
        store.record_operating_items(account, items).await.unwrap();
        recorded.push(operation);
        // Each begins in a later millisecond than the one before.
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    let elsewhere = OperationId::generate();
    let items = vec![item(
        elsewhere,
        OperationType::InputData,
        Some(ActivityType::Start),
        source,
        5,
    )];
    store.record_operating_items(other, items).await.unwrap();

    let all = TimeRange::default();
    let first = store
        .recent_operations(account, all, None, PageLimit::new(Some(2), 2, 2).unwrap())
        .await
        .unwrap();
    let ids: Vec<OperationId> = first.items.iter().map(|op| op.operation).collect();
    assert_eq!(ids, [recorded[2], recorded[1]]);
    assert!(first.has_more);
    assert_eq!(first.items[0].timings.len(), 2);
    assert!(first.items[0].complete);
    assert!(first.items[0].first_at >= before);
    let last = first.items.last().unwrap();
    let position = OperationPosition {
        first_at: last.first_at,
        operation: last.operation,
    };
    let rest = store
        .recent_operations(
            account,
            all,
            Some(position),
            PageLimit::new(Some(2), 2, 2).unwrap(),
        )
        .await
        .unwrap();
    let ids: Vec<OperationId> = rest.items.iter().map(|op| op.operation).collect();
    assert_eq!(ids, [recorded[0]]);
    assert!(!rest.has_more);

    // A window bounds the time of the first item as recorded.
    let after_all = TimeRange {
        from: Some(UtcTime::from_unix_millis(UtcTime::now().unix_millis() + 60_000).unwrap()),
        to: None,
    };
    let none = store
        .recent_operations(
            account,
            after_all,
            None,
            PageLimit::new(None, 10, 10).unwrap(),
        )
        .await
        .unwrap();
    assert!(none.items.is_empty());
    let theirs = store
        .recent_operations(other, all, None, PageLimit::new(None, 10, 10).unwrap())
        .await
        .unwrap();
    assert_eq!(theirs.items.len(), 1);
    assert_eq!(theirs.items[0].operation, elsewhere);
}
