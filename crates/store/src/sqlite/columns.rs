//! Decoding stored columns into core types. A value that does not decode means the file was
//! changed behind pipelog's back; it surfaces as a backend error naming the column.

use std::fmt::Display;

use pipelog_core::ids::Label;
use pipelog_core::time::UtcTime;
use rusqlite::Row;
use rusqlite::types::Type;

pub(super) fn corrupt(index: usize, problem: impl Display) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(index, Type::Null, problem.to_string().into())
}

/// A 16-byte blob (a stored UUID).
pub(super) fn uuid_bytes(row: &Row<'_>, index: usize) -> rusqlite::Result<[u8; 16]> {
    row.get_ref(index)?
        .as_blob()?
        .try_into()
        .map_err(|_| corrupt(index, "expected a 16-byte id"))
}

pub(super) fn optional_uuid_bytes(
    row: &Row<'_>,
    index: usize,
) -> rusqlite::Result<Option<[u8; 16]>> {
    match row.get_ref(index)?.as_blob_or_null()? {
        None => Ok(None),
        Some(bytes) => bytes
            .try_into()
            .map(Some)
            .map_err(|_| corrupt(index, "expected a 16-byte id")),
    }
}

pub(super) fn time(row: &Row<'_>, index: usize) -> rusqlite::Result<UtcTime> {
    let millis: i64 = row.get(index)?;
    UtcTime::from_unix_millis(millis).ok_or_else(|| corrupt(index, "time out of range"))
}

pub(super) fn optional_time(row: &Row<'_>, index: usize) -> rusqlite::Result<Option<UtcTime>> {
    match row.get::<_, Option<i64>>(index)? {
        None => Ok(None),
        Some(millis) => UtcTime::from_unix_millis(millis)
            .map(Some)
            .ok_or_else(|| corrupt(index, "time out of range")),
    }
}

/// A text column parsed by `parse` (an enum word, a name).
pub(super) fn parsed<T, E: Display>(
    row: &Row<'_>,
    index: usize,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> rusqlite::Result<T> {
    let text = row.get_ref(index)?.as_str()?;
    parse(text).map_err(|error| corrupt(index, error))
}

pub(super) fn optional_label<const MAX: usize>(
    row: &Row<'_>,
    index: usize,
) -> rusqlite::Result<Option<Label<MAX>>> {
    match row.get_ref(index)?.as_str_or_null()? {
        None => Ok(None),
        Some(text) => Label::parse(text)
            .map(Some)
            .map_err(|error| corrupt(index, error)),
    }
}
