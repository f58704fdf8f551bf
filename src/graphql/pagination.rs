//! Cursor pagination shared by every connection (GraphQL Cursor Connections):
//! the same page-size rules, `first`/`after` and `last`/`before`, exact
//! `hasNextPage`/`hasPreviousPage`, and opaque keyset cursors bound to their
//! connection and filter; never OFFSET.
//!
//! A page reads from its cursor inclusively and one row past its end: the
//! cursor's own row tells that rows lie before the page, the extra row that
//! rows follow it (at most `limit + 2` rows, as Sui's GraphQL service does).
use async_graphql::connection::{Connection, Edge};
use async_graphql::{ObjectType, OutputType};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::context::GraphqlResult;
use super::errors::graphql_error;
use crate::domain::error::DomainError;
use crate::domain::text;
use crate::store::keyset::{Direction, KeysetRead};

pub const PAGE_SIZE_DEFAULT: u64 = 20;
pub const PAGE_SIZE_MAX: u64 = 100;

/// The arguments of a connection field.
#[derive(Clone, Debug, Default)]
pub struct PageArgs {
    pub first: Option<i32>,
    pub after: Option<String>,
    pub last: Option<i32>,
    pub before: Option<String>,
}

/// A keyset position, as a cursor carries it.
pub trait Position: Copy + PartialEq + Sized {
    fn write(&self) -> String;
    fn read(text: &str) -> Option<Self>;
}

/// An id, for connections ordered by id alone.
impl Position for i64 {
    fn write(&self) -> String {
        self.to_string()
    }

    fn read(text: &str) -> Option<Self> {
        text.parse().ok()
    }
}

/// A time in milliseconds and an id breaking its ties.
impl Position for (i64, i64) {
    fn write(&self) -> String {
        format!("{}.{}", self.0, self.1)
    }

    fn read(text: &str) -> Option<Self> {
        let (at, id) = text.split_once('.')?;
        Some((at.parse().ok()?, id.parse().ok()?))
    }
}

/// A digest of a filter's canonical form (FNV-1a: the same in every build
/// and process, which std's hasher does not promise), to bind cursors to it.
pub fn filter_digest(canonical: &impl std::fmt::Debug) -> String {
    let text = format!("{canonical:?}");
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    format!("{hash:016x}")
}

/// The cursors of one connection (`kind`) under one filter (its digest): a
/// cursor of another connection, of another filter, or a forged one is
/// INVALID_INPUT rather than a page of something else.
pub struct Cursors {
    kind: &'static str,
    filter: String,
}

impl Cursors {
    pub fn new(kind: &'static str, filter_digest: String) -> Self {
        Cursors { kind, filter: filter_digest }
    }

    pub fn encode(&self, position: &impl Position) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}:{}.{}", self.kind, self.filter, position.write()))
    }

    fn decode<P: Position>(&self, cursor: &str, input: &text::TextInput) -> Result<P, DomainError> {
        input.check(cursor)?;
        let field = input.field;
        URL_SAFE_NO_PAD
            .decode(cursor)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .and_then(|text| {
                let (kind, rest) = text.split_once(':')?;
                let (filter, position) = rest.split_once('.')?;
                (kind == self.kind && filter == self.filter).then(|| P::read(position)).flatten()
            })
            .ok_or_else(|| {
                DomainError::invalid(field, format!("{field} is not a cursor of this connection and filter"))
            })
    }
}

/// `first` or `last` as a page size: the default when absent, refused
/// outside `0..=PAGE_SIZE_MAX`.
fn size(value: Option<i32>, field: &'static str) -> Result<u64, DomainError> {
    match value {
        None => Ok(PAGE_SIZE_DEFAULT),
        Some(n) => u64::try_from(n)
            .ok()
            .filter(|n| *n <= PAGE_SIZE_MAX)
            .ok_or_else(|| DomainError::invalid(field, format!("{field} must be between 0 and {PAGE_SIZE_MAX}"))),
    }
}

/// A list's `limit` under the page-size cap (the admins' top lists).
pub fn page_size(limit: i32, field: &'static str) -> GraphqlResult<u64> {
    size(Some(limit), field).map_err(|error| graphql_error(error.into()))
}

/// A requested page of a connection whose keyset positions are `P`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page<P> {
    pub direction: Direction,
    /// The position of `after` (forward) or `before` (backward).
    pub cursor: Option<P>,
    pub limit: u64,
}

impl<P: Position> Page<P> {
    /// `first`/`after` or `last`/`before`, never both.
    pub fn new(args: PageArgs, cursors: &Cursors) -> Result<Self, DomainError> {
        let PageArgs { first, after, last, before } = args;
        let (direction, size, cursor) = match (first, after, last, before) {
            (first, after, None, None) => (Direction::Forward, size(first, "first")?, after.map(|c| (c, text::AFTER))),
            (None, None, last, before) => (Direction::Backward, size(last, "last")?, before.map(|c| (c, text::BEFORE))),
            _ => return Err(DomainError::invalid("first", "page with first/after or with last/before, not both")),
        };
        let cursor = cursor.map(|(cursor, input)| cursors.decode(&cursor, &input)).transpose()?;
        Ok(Page { direction, cursor, limit: size })
    }

    /// What to read: the cursor's row, the page, and one row past it.
    pub fn read(&self) -> KeysetRead<P> {
        KeysetRead {
            direction: self.direction,
            from: self.cursor,
            limit: self.limit + 1 + u64::from(self.cursor.is_some()),
        }
    }

    /// The page out of `rows` as read (see [`Page::read`]), in the
    /// connection's order, with whether rows lie before and after it.
    pub fn finish<T>(&self, mut rows: Vec<T>, position: impl Fn(&T) -> P) -> (Vec<T>, bool, bool) {
        let at_cursor = self.cursor.is_some_and(|cursor| rows.first().is_some_and(|row| position(row) == cursor));
        if at_cursor {
            rows.remove(0);
        }
        let beyond = rows.len() as u64 > self.limit;
        rows.truncate(usize::try_from(self.limit).unwrap_or(usize::MAX));
        match self.direction {
            Direction::Forward => (rows, at_cursor, beyond),
            Direction::Backward => {
                rows.reverse();
                (rows, beyond, at_cursor)
            }
        }
    }

    /// The connection of `rows` as read, each row's cursor made from its
    /// position.
    pub fn connection<T, Node: OutputType, Fields: ObjectType>(
        &self,
        rows: Vec<T>,
        cursors: &Cursors,
        position: impl Fn(&T) -> P,
        node: impl Fn(T) -> Node,
        fields: Fields,
    ) -> Connection<String, Node, Fields> {
        let (rows, has_previous_page, has_next_page) = self.finish(rows, &position);
        let mut connection = Connection::with_additional_fields(has_previous_page, has_next_page, fields);
        connection.edges.extend(rows.into_iter().map(|row| Edge::new(cursors.encode(&position(&row)), node(row))));
        connection
    }
}

/// A page's arguments checked, for a resolver.
pub fn page<P: Position>(args: PageArgs, cursors: &Cursors) -> GraphqlResult<Page<P>> {
    Page::new(args, cursors).map_err(|error| graphql_error(error.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursors() -> Cursors {
        Cursors::new("ledger", filter_digest(&"kinds: None"))
    }

    fn args(first: Option<i32>, after: Option<String>, last: Option<i32>, before: Option<String>) -> PageArgs {
        PageArgs { first, after, last, before }
    }

    fn refused(args: PageArgs) -> (Option<&'static str>, String) {
        let error = Page::<i64>::new(args, &cursors()).unwrap_err();
        (error.field(), error.to_string())
    }

    #[test]
    fn page_sizes_default_to_20_and_stop_at_100() {
        let page = |args| Page::<i64>::new(args, &cursors()).unwrap();
        assert_eq!(page(PageArgs::default()), Page { direction: Direction::Forward, cursor: None, limit: 20 });
        assert_eq!(page(args(Some(100), None, None, None)).limit, 100);
        assert_eq!(page(args(Some(0), None, None, None)).limit, 0);
        let last = page(args(None, None, Some(7), None));
        assert_eq!((last.direction, last.limit), (Direction::Backward, 7));
        assert_eq!(page(args(None, None, None, Some(cursors().encode(&5)))).limit, 20);
        assert_eq!(refused(args(Some(101), None, None, None)).0, Some("first"));
        assert_eq!(refused(args(None, None, Some(-1), None)).0, Some("last"));
        assert_eq!(page_size(100, "limit").unwrap(), 100);
        assert!(page_size(101, "limit").is_err());
    }

    #[test]
    fn first_with_last_or_after_with_before_is_refused() {
        let cursor = cursors().encode(&5);
        for mixed in [
            args(Some(2), None, Some(2), None),
            args(Some(2), None, None, Some(cursor.clone())),
            args(None, Some(cursor.clone()), Some(2), None),
            args(None, Some(cursor.clone()), None, Some(cursor.clone())),
        ] {
            assert_eq!(refused(mixed), (Some("first"), "page with first/after or with last/before, not both".into()));
        }
    }

    #[test]
    fn cursors_are_bound_to_their_connection_and_filter() {
        let ours = cursors();
        let page = Page::<i64>::new(args(Some(3), Some(ours.encode(&42)), None, None), &ours).unwrap();
        assert_eq!(page.cursor, Some(42));
        let other_filter = Cursors::new("ledger", filter_digest(&"kinds: Some([Consume])"));
        let other_kind = Cursors::new("usage", filter_digest(&"kinds: None"));
        let forged = URL_SAFE_NO_PAD.encode("ledger:42");
        for cursor in [other_filter.encode(&42), other_kind.encode(&42), forged, "%%%".into(), String::new()] {
            let (field, message) = refused(args(None, Some(cursor.clone()), None, None));
            assert_eq!(field, Some("after"), "{cursor}");
            assert_eq!(message, "after is not a cursor of this connection and filter");
        }
        let (field, _) = refused(args(None, None, None, Some("a\0".into())));
        assert_eq!(field, Some("before"), "the string rules of the cursor come first");
        let pairs = Cursors::new("usage", "f".into());
        let page = Page::<(i64, i64)>::new(args(None, None, Some(1), Some(pairs.encode(&(-5, 9)))), &pairs).unwrap();
        assert_eq!(page.cursor, Some((-5, 9)));
    }

    /// Rows of a connection of ids, newest (highest) first, as the store
    /// reads them for `read`.
    fn read(ids: &[i64], read: KeysetRead<i64>) -> Vec<i64> {
        let mut rows: Vec<i64> = match read.direction {
            Direction::Forward => ids.iter().copied().filter(|id| read.from.is_none_or(|from| *id <= from)).collect(),
            Direction::Backward => {
                ids.iter().rev().copied().filter(|id| read.from.is_none_or(|from| *id >= from)).collect()
            }
        };
        rows.truncate(read.limit as usize);
        rows
    }

    fn page_of(ids: &[i64], args: PageArgs) -> (Vec<i64>, bool, bool) {
        let page = Page::<i64>::new(args, &cursors()).unwrap();
        page.finish(read(ids, page.read()), |id| *id)
    }

    #[test]
    fn page_info_is_exact_both_ways() {
        let ids = [9, 8, 7, 6, 5];
        let c = |id: i64| Some(cursors().encode(&id));
        assert_eq!(page_of(&ids, args(Some(2), None, None, None)), (vec![9, 8], false, true));
        assert_eq!(page_of(&ids, args(Some(2), c(8), None, None)), (vec![7, 6], true, true));
        assert_eq!(page_of(&ids, args(Some(2), c(6), None, None)), (vec![5], true, false));
        assert_eq!(page_of(&ids, args(Some(3), c(7), None, None)), (vec![6, 5], true, false));
        assert_eq!(page_of(&ids, args(Some(5), None, None, None)), (ids.to_vec(), false, false));
        assert_eq!(page_of(&ids, args(None, None, Some(2), None)), (vec![6, 5], true, false));
        assert_eq!(page_of(&ids, args(None, None, Some(2), c(6))), (vec![8, 7], true, true));
        assert_eq!(page_of(&ids, args(None, None, Some(2), c(8))), (vec![9], false, true));
        assert_eq!(page_of(&ids, args(Some(0), c(8), None, None)), (vec![], true, true));
        assert_eq!(page_of(&[], PageArgs::default()), (vec![], false, false));
    }

    #[test]
    fn a_cursor_past_every_row_has_nothing_before_it() {
        // A position no row has: only what the read finds counts.
        let ids = [9, 8, 7];
        assert_eq!(page_of(&ids, args(Some(2), Some(cursors().encode(&100)), None, None)), (vec![9, 8], false, true));
        assert_eq!(page_of(&ids, args(Some(2), Some(cursors().encode(&1)), None, None)), (vec![], false, false));
    }
}
