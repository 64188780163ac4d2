//! The store's test suite: written once in `suite`, run against every backend.
//!
//! Each backend gets a module below that instantiates every suite test with its own
//! fixture (a fresh store per test).

mod backends;
mod suite;

/// Instantiates the named suite tests for a backend whose fixture `$open().await` returns
/// (`None`: the backend is not available here, and the test says so and passes).
macro_rules! store_suite {
    ($open:path; $($area:ident :: $test:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                let Some(fixture) = $open().await else {
                    return;
                };
                crate::suite::$area::$test(fixture.store()).await;
                fixture.close().await;
            }
        )+
    };
}

/// Every suite test, as `area::name`.
macro_rules! every_suite_test {
    ($open:path) => {
        store_suite!($open;
            keys::bootstrap_creates_the_default_account_and_operator_key_once,
            keys::find_key_sees_active_keys_only,
            keys::create_key_creates_its_account_and_refuses_a_duplicate_secret,
            keys::list_keys_pages_within_scope,
            keys::revoke_is_scoped_and_idempotent,
            keys::sessions_stand_for_their_key_until_they_end,
            executions::launch_creates_the_job_then_updates_it,
            executions::status_transitions_and_their_conflicts,
            executions::claim_hands_each_execution_to_one_caller,
            executions::list_is_newest_first_filtered_and_paged,
            executions::another_account_sees_nothing,
            executions::reported_runs_move_forward_only,
            logs::append_numbers_lines_without_gaps,
            logs::resent_lines_with_a_client_id_are_written_once,
            logs::large_batches_keep_every_field_and_client_id,
            logs::pages_in_both_orders_with_cursor,
            logs::severity_and_time_filters,
            logs::cid_target_creates_a_running_execution_once,
            logs::ended_execution_takes_no_lines,
            logs::a_failing_batch_leaves_the_others_written,
            logs::concurrent_appends_commit_in_groups_without_gaps,
            logs::another_account_cannot_read_or_append,
            logs::deleting_hides_lines_at_once_and_numbering_goes_on,
            logs::skip_counts_positions_and_selected_counts_the_time_range,
            logs::retention_expires_old_lines_as_a_prefix,
            logs::followers_hear_of_appends_and_ends,
            exports::exports_are_claimed_once_finished_and_expired,
            audit::entries_come_back_newest_first_in_pages,
            audit::a_client_id_makes_a_retry_harmless,
            audit::pipelog_records_job_and_key_events_with_the_change,
            audit::finds_stay_in_their_account,
            audit::chains_verify_per_account,
            audit::anchors_hold_the_chain_to_its_past,
            audit_model::finds_agree_with_the_evaluator,
            operating::items_are_recorded_listed_and_read_back,
            operating::resent_items_with_a_client_id_are_recorded_once,
            operating::statistics_read_the_operations_of_a_period,
            operating::recent_operations_page_newest_first,
            operating::another_account_sees_no_item_or_operation,
            operating::period_statistics_agree_with_the_items_short_or_long,
        );
    };
}

mod sqlite {
    every_suite_test!(crate::backends::sqlite_suite);
}

/// On PostgreSQL, when `PIPELOG_TEST_DATABASE_URL` names a server on which the tests may
/// create databases (each test gets a database of its own, dropped afterwards).
mod postgres {
    every_suite_test!(crate::backends::postgres);
}

/// The property test again, with finds that never start from index terms (in the suite,
/// its small datasets always do).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_finds_agree_with_the_evaluator_reading_in_order() {
    let fixture = backends::sqlite_reading_in_order();
    suite::audit_model::finds_agree_with_the_evaluator(fixture.store()).await;
    fixture.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_finds_agree_with_the_evaluator_reading_in_order() {
    let Some(fixture) = backends::postgres_reading_in_order().await else {
        return;
    };
    suite::audit_model::finds_agree_with_the_evaluator(fixture.store()).await;
    fixture.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_writes_survive_reopening() {
    backends::sqlite_writes_survive_reopening().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_rewritten_history_passes_the_chain_but_not_a_digest() {
    backends::sqlite_a_rewritten_history_passes_the_chain_but_not_a_digest().await;
}
