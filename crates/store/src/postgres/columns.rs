//! Decoding stored columns into core types. A value that does not decode means the database
//! was changed behind pipelog's back; it surfaces as a backend error naming the column.

use std::fmt::Display;

use pipelog_core::ids::Label;
use pipelog_core::time::UtcTime;
use tokio_postgres::Row;
use tokio_postgres::types::FromSql;

use crate::StoreError;

fn corrupt(row: &Row, index: usize, problem: impl Display) -> StoreError {
    let column = row.columns().get(index).map_or("?", |column| column.name());
    StoreError::Backend(format!(
        "stored column `{column}` cannot be read: {problem}"
    ))
}

/// A column of any type `tokio-postgres` decodes, its failure naming the column.
pub(super) fn get<'a, T: FromSql<'a>>(row: &'a Row, index: usize) -> Result<T, StoreError> {
    row.try_get(index)
        .map_err(|error| corrupt(row, index, error))
}

/// A `uuid` column, as the 16 bytes core ids are made from.
pub(super) fn uuid_bytes(row: &Row, index: usize) -> Result<[u8; 16], StoreError> {
    get::<uuid::Uuid>(row, index).map(|id| id.into_bytes())
}

pub(super) fn optional_uuid_bytes(row: &Row, index: usize) -> Result<Option<[u8; 16]>, StoreError> {
    get::<Option<uuid::Uuid>>(row, index).map(|id| id.map(uuid::Uuid::into_bytes))
}

/// Milliseconds since the epoch.
pub(super) fn time(row: &Row, index: usize) -> Result<UtcTime, StoreError> {
    let millis: i64 = get(row, index)?;
    UtcTime::from_unix_millis(millis).ok_or_else(|| corrupt(row, index, "time out of range"))
}

pub(super) fn optional_time(row: &Row, index: usize) -> Result<Option<UtcTime>, StoreError> {
    match get::<Option<i64>>(row, index)? {
        None => Ok(None),
        Some(millis) => UtcTime::from_unix_millis(millis)
            .map(Some)
            .ok_or_else(|| corrupt(row, index, "time out of range")),
    }
}

/// A text column parsed by `parse` (an enum word, a name).
pub(super) fn parsed<T, E: Display>(
    row: &Row,
    index: usize,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, StoreError> {
    let text: &str = get(row, index)?;
    parse(text).map_err(|error| corrupt(row, index, error))
}

pub(super) fn optional_label<const MAX: usize>(
    row: &Row,
    index: usize,
) -> Result<Option<Label<MAX>>, StoreError> {
    match get::<Option<&str>>(row, index)? {
        None => Ok(None),
        Some(text) => Label::parse(text)
            .map(Some)
            .map_err(|error| corrupt(row, index, error)),
    }
}

/// Free text kept as its UTF-8 bytes (`bytea`): PostgreSQL's `text` cannot hold NUL, which
/// a log line's message may.
pub(super) fn utf8(row: &Row, index: usize) -> Result<String, StoreError> {
    let bytes: Vec<u8> = get(row, index)?;
    String::from_utf8(bytes).map_err(|error| corrupt(row, index, error))
}

pub(super) fn optional_utf8(row: &Row, index: usize) -> Result<Option<String>, StoreError> {
    match get::<Option<Vec<u8>>>(row, index)? {
        None => Ok(None),
        Some(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|error| corrupt(row, index, error)),
    }
}

/// A whole number stored as `bigint` that must not be negative (a seq, a count).
pub(super) fn count(row: &Row, index: usize) -> Result<u64, StoreError> {
    let value: i64 = get(row, index)?;
    u64::try_from(value).map_err(|_| corrupt(row, index, "a negative count"))
}

/// A core id as the `uuid` PostgreSQL stores.
pub(super) fn uuid(bytes: &[u8; 16]) -> uuid::Uuid {
    uuid::Uuid::from_bytes(*bytes)
}

/// A number column as the type core uses, which PostgreSQL may lack (it has no unsigned
/// types): `S` is the column's type, and a stored value out of `T`'s range is corrupt.
pub(super) fn number<'a, S: FromSql<'a>, T: TryFrom<S>>(
    row: &'a Row,
    index: usize,
) -> Result<T, StoreError> {
    T::try_from(get::<S>(row, index)?).map_err(|_| corrupt(row, index, "a number out of range"))
}

pub(super) fn optional_number<'a, S: FromSql<'a>, T: TryFrom<S>>(
    row: &'a Row,
    index: usize,
) -> Result<Option<T>, StoreError> {
    match get::<Option<S>>(row, index)? {
        None => Ok(None),
        Some(value) => T::try_from(value)
            .map(Some)
            .map_err(|_| corrupt(row, index, "a number out of range")),
    }
}

/// A `bytea` column of exactly `N` bytes (a hash, a fingerprint).
pub(super) fn byte_array<const N: usize>(row: &Row, index: usize) -> Result<[u8; N], StoreError> {
    let bytes: &[u8] = get(row, index)?;
    bytes
        .try_into()
        .map_err(|_| corrupt(row, index, format!("{} bytes, not {N}", bytes.len())))
}

/// A column read as `S`, then made into `T` by `decode` (an enumeration's code, stored
/// JSON, a blob): a value `decode` refuses is corrupt, and the error names the column.
pub(super) fn decoded<'a, S: FromSql<'a>, T, E: Display>(
    row: &'a Row,
    index: usize,
    decode: impl FnOnce(S) -> Result<T, E>,
) -> Result<T, StoreError> {
    decode(get(row, index)?).map_err(|error| corrupt(row, index, error))
}
