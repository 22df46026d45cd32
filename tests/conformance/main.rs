//! Adapter conformance: one suite per port, run unchanged against every backend.
//!
//! Each case is a plain `async fn` in `suite_*.rs`. A backend module
//! (`sqlite.rs`, `aws.rs`) provides factories and invokes the macros below,
//! which expand into one `#[tokio::test]` per case, named after the behaviour,
//! so `cargo test --test conformance sqlite` runs every case on SQLite.
//!
//! Factory signatures (identical for every backend):
//! - table: `async fn(clock: Arc<dyn Clock>) -> TableFixture`: a fresh, empty
//!   table whose expiry filtering uses `clock` (the suite moves it);
//! - queue: `async fn(max_receives: u32) -> QueueFixture`: a fresh queue whose
//!   messages go to `dead_letters` after `max_receives` receives, its
//!   visibility timeouts on a test clock the suite moves where the backend
//!   takes a `Clock`, else on real time;
//! - keys: `async fn() -> KeysFixture`;
//! - objects: `async fn() -> ObjectsFixture`: a fresh, empty store (its own
//!   directory or bucket) and a way to list what the backend physically holds.
//!
//! Tests run in parallel: every factory call must return its own table/queue.
//!
//! A case written in a suite but missing from its macro's list would never
//! run: it is dead code, and dead code fails this binary's build.

#![deny(dead_code)]

use std::any::Any;
use std::sync::Arc;

use futures::future::BoxFuture;
use konnecs::ports::{KeyVault, ObjectStore, Queue, Table};

/// Whatever must live as long as the port object (a temp dir, say).
pub type Keep = Box<dyn Any + Send + Sync>;

pub struct TableFixture {
    pub table: Arc<dyn Table>,
    pub keep: Keep,
}

pub struct QueueFixture {
    pub queue: Arc<dyn Queue>,
    /// The dead-letter queue of `queue`, as a queue.
    pub dead_letters: Arc<dyn Queue>,
    /// The clock both queues' visibility timeouts run on, when the backend
    /// takes one (the suite moves it); `None` on real time.
    pub clock: Option<konnecs::ports::TestClock>,
    pub keep: Keep,
}

pub struct KeysFixture {
    pub vault: Arc<dyn KeyVault>,
    pub keep: Keep,
}

pub struct ObjectsFixture {
    pub store: Arc<dyn ObjectStore>,
    /// Everything the backend physically holds (files in and around the
    /// store's directory; keys in the bucket), sorted: shows that a call
    /// wrote nothing.
    pub contents: Box<dyn Fn() -> BoxFuture<'static, Vec<String>> + Send + Sync>,
    /// Whether the store hands out direct download links (S3 presigned URLs).
    pub direct_links: bool,
    /// Whether a call on a completed or aborted upload says `NoSuchUpload`
    /// (S3 answers 404 NoSuchUpload). moto 5.2 answers 500 instead, so on the
    /// emulator the suite can only assert that such a call fails.
    pub names_ended_uploads: bool,
    pub keep: Keep,
}

/// `table_suite!(factory)`: one test per `suite_table` case.
macro_rules! table_suite {
    ($factory:path) => {
        table_suite!(@cases $factory;
            conditional_put_on_existing_item_conflicts,
            put_without_string_keys_is_invalid,
            not_exists_put_over_expired_item_succeeds,
            version_equals_holds_and_fails,
            attribute_equals_holds_and_fails,
            exists_condition_needs_a_live_item,
            update_sets_adds_and_removes_and_upserts,
            update_with_failing_condition_on_missing_item_creates_nothing,
            update_cannot_change_key_attributes,
            gsi_key_attributes_must_be_strings,
            delete_returns_the_old_item,
            delete_with_failing_condition_keeps_the_item,
            transaction_applies_every_operation,
            transaction_with_one_failing_condition_writes_nothing,
            transaction_touching_one_key_twice_is_invalid,
            transaction_of_101_operations_is_invalid,
            transaction_of_100_operations_commits,
            transactions_in_order_commit_a_prefix_and_stop_at_the_first_failure,
            transactions_in_order_with_a_malformed_one_write_nothing,
            concurrent_version_checked_increments_end_at_exact_count,
            query_sort_key_conditions_forward_and_reverse,
            begins_with_treats_wildcards_and_multibyte_literally,
            query_pages_through_a_partition_with_a_small_limit,
            gsi_query_pages_return_every_item_once_including_equal_sort_keys,
            gsi_is_sparse,
            invalid_cursor_is_rejected,
            cursor_of_one_query_is_rejected_by_another_on_the_same_partition,
            expired_item_is_invisible_to_get_batch_get_and_query,
            item_becomes_invisible_when_clock_passes_expiry,
            batch_write_puts_then_deletes_sixty_items,
            batch_get_of_missing_keys_returns_only_present_items,
            batch_get_of_more_than_100_keys_is_invalid,
            update_over_expired_item_starts_from_a_fresh_item,
            transaction_update_over_expired_item_starts_from_a_fresh_item,
            empty_update_is_invalid,
            batch_write_applies_repeated_keys_in_order,
        );
    };
    (@cases $factory:path; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let clock = konnecs::ports::TestClock::at(jiff::Timestamp::now());
                let fixture: $crate::TableFixture = $factory(std::sync::Arc::new(clock.clone())).await;
                let env = $crate::suite_table::TableEnv { table: fixture.table, clock, _keep: fixture.keep };
                $crate::suite_table::$case(&env).await;
            }
        )+
    };
}

/// `queue_suite!(factory)`: one test per `suite_queue` case.
macro_rules! queue_suite {
    ($factory:path) => {
        queue_suite!(@cases $factory;
            send_batch_of_25_is_received_exactly_once,
            unacknowledged_message_is_redelivered_after_visibility_timeout,
            acknowledged_message_is_not_redelivered,
            stale_receipt_ack_is_not_an_error,
            message_lands_in_dead_letter_queue_after_max_receives,
            depth_counts_waiting_and_in_flight_messages,
            receive_of_more_than_ten_is_invalid,
            delayed_message_stays_hidden_until_its_delay_passes,
        );
    };
    (@cases $factory:path; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let fixture: $crate::QueueFixture = $factory($crate::suite_queue::MAX_RECEIVES).await;
                $crate::suite_queue::$case(&fixture).await;
            }
        )+
    };
}

/// `keys_suite!(factory)`: one test per `suite_keys` case.
macro_rules! keys_suite {
    ($factory:path) => {
        keys_suite!(@cases $factory;
            encryption_round_trips,
            wrong_context_is_undecryptable,
            tampered_ciphertext_is_undecryptable,
            two_encryptions_of_the_same_plaintext_differ,
            envelope_parses_with_a_12_byte_nonce,
        );
    };
    (@cases $factory:path; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let fixture: $crate::KeysFixture = $factory().await;
                $crate::suite_keys::$case(fixture.vault.as_ref()).await;
            }
        )+
    };
}

/// `objects_suite!(factory)`: one test per `suite_objects` case.
macro_rules! objects_suite {
    ($factory:path) => {
        objects_suite!(@cases $factory;
            put_then_get_round_trips_bytes_and_content_type,
            overwrite_replaces_bytes_and_content_type,
            get_of_a_missing_key_is_none,
            delete_is_idempotent,
            a_key_and_keys_under_it_coexist,
            longest_valid_key_round_trips,
            invalid_keys_are_rejected_without_touching_storage,
            a_multipart_upload_joins_its_parts_in_order_and_shows_nothing_before,
            completing_with_a_part_replaced_since_is_refused,
            an_aborted_upload_leaves_nothing_and_takes_no_more_parts,
            open_streams_an_object_and_exists_tells_whether_there_is_one,
            a_download_link_serves_the_object_as_a_named_attachment,
        );
    };
    (@cases $factory:path; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let fixture: $crate::ObjectsFixture = $factory().await;
                $crate::suite_objects::$case(&fixture).await;
            }
        )+
    };
}

mod suite_keys;
mod suite_objects;
mod suite_queue;
mod suite_table;

mod aws;
mod sqlite;
