//! Cursor pagination, the same on every list: `?limit=` (default 50, at most 500) and an opaque
//! `?cursor=` from the previous page's `next_cursor`. Most cursors name the last item seen; lists
//! the store pages by position (attackers, whose order changes as they act) carry the position.

use chrono::{DateTime, Datelike, Utc};
use rampart_core::ValidationErrors;
use rampart_core::cursor;
use rampart_store::Seek;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::ApiError;

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 500;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// How many items, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = r"^[A-Za-z0-9_-]{21}[AQgw]$")]
    pub cursor: Option<String>,
}

impl PageQuery {
    /// Reads the page asked for by `limit` and `cursor`, or a 422 naming the bad parameter.
    pub fn parse(limit: Option<u32>, cursor: Option<&str>) -> Result<Asked, ApiError> {
        let query = Self { limit, cursor: cursor.map(str::to_owned) };
        let (limit, from) = query.read(cursor::decode_item)?;
        Ok(Asked { limit, from })
    }

    /// The limit and the number of items to skip, for a list paged by position.
    pub fn parse_offset(&self) -> Result<(u32, u32), ApiError> {
        let (limit, offset) = self.read(cursor::decode_offset)?;
        Ok((limit, offset.unwrap_or(0)))
    }

    /// The limit, and the cursor read by `decode` (none on the first page); every bad parameter named.
    fn read<P>(&self, decode: impl Fn(&str) -> Option<P>) -> Result<(u32, Option<P>), ApiError> {
        let mut errors = ValidationErrors::new();
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            errors.add("limit", format!("must be between 1 and {MAX_LIMIT}"));
        }
        let position = self.cursor.as_deref().and_then(|text| {
            let decoded = decode(text);
            if decoded.is_none() {
                errors.add("cursor", "is not a cursor this server gave out");
            }
            decoded
        });
        errors.into_result(|| (limit, position)).map_err(ApiError::from)
    }
}

/// Reads an optional query filter, naming the parameter when it is not a value it can be.
pub fn parse_filter<T: std::str::FromStr<Err = String>>(
    field: &str,
    value: Option<&str>,
) -> Result<Option<T>, ApiError> {
    value
        .map(|text| text.parse::<T>().map_err(|message| ApiError::from(ValidationErrors::single(field, message))))
        .transpose()
}

/// Most characters of a text filter (`?q=`, `?tag=`, `?tool=`).
pub const FILTER_TEXT_MAX: usize = 200;

/// Reads an optional text filter: at most [`FILTER_TEXT_MAX`] characters and no control
/// characters (PostgreSQL cannot even compare a NUL), or a 422 naming the parameter.
pub fn text_filter(field: &str, value: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(text) = value else { return Ok(None) };
    if text.chars().count() > FILTER_TEXT_MAX {
        Err(ValidationErrors::single(field, format!("must be at most {FILTER_TEXT_MAX} characters")).into())
    } else if text.chars().any(char::is_control) {
        Err(ValidationErrors::single(field, "must not contain control characters").into())
    } else {
        Ok(Some(text.to_owned()))
    }
}

/// Reads an optional time filter: a time both databases can compare, from year 1 to 9999 (the
/// years RFC 3339 writes), or a 422 naming the parameter.
pub fn time_filter(field: &str, value: Option<DateTime<Utc>>) -> Result<Option<DateTime<Utc>>, ApiError> {
    match value {
        Some(time) if !(1..=9999).contains(&time.year()) => {
            Err(ValidationErrors::single(field, "must be a time from year 1 to 9999").into())
        }
        _ => Ok(value),
    }
}

/// A page asked for: at most `limit` items, those after the item the cursor names.
#[derive(Clone, Copy, Debug)]
pub struct Asked {
    pub limit: u32,
    from: Option<Uuid>,
}

impl Asked {
    /// What the store is asked for: one item more than the page holds, to know whether more follow.
    pub fn seek<I: From<Uuid>>(&self) -> Seek<I> {
        Seek { from: self.from.map(I::from), limit: self.limit + 1 }
    }

    /// The page of `rows`, read with [`Asked::seek`], shown as `view` shows them.
    pub fn page<R, V>(&self, rows: Vec<R>, view: impl Fn(R) -> V, id_of: impl Fn(&V) -> Uuid) -> Page<V> {
        Page::new(rows.into_iter().map(view).collect(), self.limit, id_of)
    }
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// A page of at most `limit` items, fetched as `limit + 1` to know whether more follow.
    pub fn new(mut items: Vec<T>, limit: u32, id_of: impl Fn(&T) -> Uuid) -> Self {
        let more = items.len() > limit as usize;
        items.truncate(limit as usize);
        let next_cursor = if more { items.last().map(|last| cursor::encode_item(id_of(last))) } else { None };
        Self { items, next_cursor }
    }

    /// A page of at most `limit` items that started `offset` items in, fetched as `limit + 1`.
    pub fn at_offset(mut items: Vec<T>, limit: u32, offset: u32) -> Self {
        let more = items.len() > limit as usize;
        items.truncate(limit as usize);
        let next_cursor = more.then(|| cursor::encode_offset(offset.saturating_add(limit)));
        Self { items, next_cursor }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_position_cursor_carries_the_next_offset_and_nothing_else_reads_as_one() {
        let page = Page::at_offset(vec![1, 2, 3], 2, 40);
        assert_eq!(page.items, [1, 2]);
        let query = PageQuery { limit: Some(2), cursor: page.next_cursor };
        assert_eq!(query.parse_offset().expect("a cursor of ours"), (2, 42));
        assert!(Page::at_offset(vec![1], 2, 0).next_cursor.is_none());

        let item_cursor = Page::new(vec![Uuid::nil(), Uuid::nil()], 1, |id| *id).next_cursor;
        assert!(PageQuery { limit: None, cursor: item_cursor }.parse_offset().is_err());
        assert!(PageQuery { limit: Some(0), cursor: None }.parse_offset().is_err());
    }

    #[test]
    fn filters_refuse_what_a_database_cannot_compare() {
        assert_eq!(text_filter("q", Some("10.0.")).expect("plain text"), Some("10.0.".to_owned()));
        assert_eq!(text_filter("q", None).expect("absent"), None);
        assert!(text_filter("q", Some("a\0b")).is_err());
        assert!(text_filter("q", Some(&"x".repeat(FILTER_TEXT_MAX + 1))).is_err());

        let now = Utc::now();
        assert_eq!(time_filter("since", Some(now)).expect("a time"), Some(now));
        let far: DateTime<Utc> = "+200000-01-01T00:00:00Z".parse().expect("chrono reads it");
        assert!(time_filter("since", Some(far)).is_err());
        let before: DateTime<Utc> = "-200000-01-01T00:00:00Z".parse().expect("chrono reads it");
        assert!(time_filter("since", Some(before)).is_err());
    }
}
