//! Reads of many rows on PostgreSQL, as one binary `COPY ... TO STDOUT`.
//!
//! sqlx turns each row of a query into a row object of its own and each
//! value into a checked, decoded column: the 10,950 rollup rows of a year's
//! DAY x MODEL summary took the store 10.6 ms, where the server scans them
//! in 1.4 and writes them out in 3.8 (the usage benchmark's database).
//! `COPY (SELECT ...) TO STDOUT (FORMAT binary)` sends the same rows as one
//! stream, parsed here as it arrives: the store now takes 6.1-6.5 ms.
//!
//! COPY takes no bind parameters, so the statement's values are written
//! into it as literals (`literal`): numbers as digits, text as escape
//! strings (`E'...'`) whose quotes and backslashes are doubled, which mean
//! the same whatever `standard_conforming_strings` says.
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::TryStreamExt;
use sea_orm::sqlx::PgPool;
use sea_orm::sqlx::postgres::PgConnection;
use sea_orm::{DbErr, RuntimeErr, Value};

use crate::store::sql::Sql;

/// What starts every binary COPY stream, before its flags and extension.
const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";

/// The most columns a row may have here.
const COLUMNS_MAX: usize = 16;

/// Columns of one row of a binary COPY stream; `None` is SQL NULL.
pub struct Tuple<'a> {
    fields: &'a [Option<&'a [u8]>],
}

impl<'a> Tuple<'a> {
    /// Column `i`, a `bigint`.
    pub fn number(&self, i: usize) -> Result<i64, DbErr> {
        let bytes = self.field(i)?;
        let bytes: [u8; 8] = bytes.try_into().map_err(|_| malformed(format!("column {i} is not a bigint")))?;
        Ok(i64::from_be_bytes(bytes))
    }

    /// Column `i`, text (`text`, `varchar`): its binary form is its UTF-8.
    pub fn text(&self, i: usize) -> Result<&'a str, DbErr> {
        let bytes = self.field(i)?;
        std::str::from_utf8(bytes).map_err(|_| malformed(format!("column {i} is not UTF-8 text")))
    }

    fn field(&self, i: usize) -> Result<&'a [u8], DbErr> {
        match self.fields.get(i) {
            Some(Some(bytes)) => Ok(bytes),
            Some(None) => Err(malformed(format!("column {i} is NULL"))),
            None => Err(malformed(format!("there is no column {i}"))),
        }
    }
}

/// Analytics reads through the pool the rest of the store uses.
#[derive(Clone)]
pub struct PostgresReads {
    pool: PgPool,
    statements: Arc<AtomicU64>,
}

impl PostgresReads {
    pub fn new(pool: PgPool, statements: Arc<AtomicU64>) -> PostgresReads {
        PostgresReads { pool, statements }
    }

    /// Every row of `select`, a query with its values written in as
    /// literals, given to `each` with `state` as it arrives; then `state`.
    ///
    /// The read runs on a task of its own, to the end even if its caller
    /// stops waiting: a COPY left half read would leave its rows queued on
    /// a connection going back to the pool, for the next query to take as
    /// its own answer. One that fails closes its connection for the same
    /// reason.
    pub async fn fold<S: Send + 'static>(
        &self,
        select: String,
        mut state: S,
        mut each: impl FnMut(&mut S, &Tuple<'_>) -> Result<(), DbErr> + Send + 'static,
    ) -> Result<S, DbErr> {
        let (pool, statements) = (self.pool.clone(), self.statements.clone());
        let read = tokio::spawn(async move {
            let mut connection = pool.acquire().await.map_err(query_error)?;
            // Counted once it runs, as the SQLite reads count theirs.
            statements.fetch_add(1, Ordering::Relaxed);
            let read = copy(&mut connection, &select, |tuple| each(&mut state, tuple)).await;
            if read.is_err() {
                connection.close_on_drop();
            }
            read.map(|()| state)
        });
        read.await.map_err(|e| DbErr::Custom(format!("a PostgreSQL read stopped: {e}")))?
    }
}

/// Runs `select` as a binary COPY on `connection`, each row to `each`.
async fn copy(
    connection: &mut PgConnection,
    select: &str,
    mut each: impl FnMut(&Tuple<'_>) -> Result<(), DbErr>,
) -> Result<(), DbErr> {
    let copy = format!("COPY ({select}) TO STDOUT (FORMAT binary)");
    let mut chunks = connection.copy_out_raw(&copy).await.map_err(query_error)?;
    // Rows are read as they arrive, while the server sends the next.
    let mut decoder = Decoder::default();
    while let Some(chunk) = chunks.try_next().await.map_err(query_error)? {
        decoder.feed(&chunk, &mut each)?;
    }
    decoder.finish()
}

/// The text of `sql` with every value written in as a PostgreSQL literal.
pub fn with_literals(sql: &Sql) -> Result<String, DbErr> {
    sql.text(|_, value| literal(value))
}

/// `value` as a PostgreSQL literal.
fn literal(value: &Value) -> Result<String, DbErr> {
    match value {
        // In parentheses, so that no operator before it reads `-` as its own.
        Value::BigInt(Some(n)) if *n < 0 => Ok(format!("({n})")),
        Value::BigInt(Some(n)) => Ok(n.to_string()),
        Value::String(Some(text)) => {
            if text.contains('\0') {
                return Err(DbErr::Custom("PostgreSQL text cannot hold a NUL character".into()));
            }
            let mut quoted = String::with_capacity(text.len() + 3);
            quoted.push_str("E'");
            for c in text.chars() {
                if c == '\'' || c == '\\' {
                    quoted.push(c);
                }
                quoted.push(c);
            }
            quoted.push('\'');
            Ok(quoted)
        }
        other => Err(DbErr::Custom(format!("no literal is written for {other:?}"))),
    }
}

/// Where a binary COPY stream is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Part {
    #[default]
    Header,
    Rows,
    Trailer,
}

/// Reads a binary COPY stream chunk by chunk. The server sends a row per
/// chunk, but a row is read whole wherever the chunks end.
#[derive(Default)]
struct Decoder {
    part: Part,
    /// The start of a row (or of the header) whose end has not come yet.
    pending: Vec<u8>,
}

impl Decoder {
    fn feed(&mut self, chunk: &[u8], each: impl FnMut(&Tuple<'_>) -> Result<(), DbErr>) -> Result<(), DbErr> {
        if self.pending.is_empty() {
            let read = self.read(chunk, each)?;
            self.pending.extend_from_slice(&chunk[read..]);
        } else {
            let mut data = std::mem::take(&mut self.pending);
            data.extend_from_slice(chunk);
            let read = self.read(&data, each)?;
            data.drain(..read);
            self.pending = data;
        }
        Ok(())
    }

    fn finish(self) -> Result<(), DbErr> {
        if self.part != Part::Trailer || !self.pending.is_empty() {
            return Err(malformed("the stream ends inside a row"));
        }
        Ok(())
    }

    /// Reads what is whole in `data`, and says how many bytes that was.
    fn read(&mut self, data: &[u8], mut each: impl FnMut(&Tuple<'_>) -> Result<(), DbErr>) -> Result<usize, DbErr> {
        let mut input = Input { data, at: 0 };
        let mut fields: [Option<&[u8]>; COLUMNS_MAX] = [None; COLUMNS_MAX];
        loop {
            let start = input.at;
            match self.part {
                Part::Header if input.header()? => self.part = Part::Rows,
                Part::Header => return Ok(start),
                Part::Rows => match input.row(&mut fields)? {
                    Next::Row(count) => each(&Tuple { fields: &fields[..count] })?,
                    Next::Trailer => self.part = Part::Trailer,
                    Next::Short => return Ok(start),
                },
                Part::Trailer if input.at < data.len() => return Err(malformed("bytes follow the stream's trailer")),
                Part::Trailer => return Ok(input.at),
            }
        }
    }
}

/// What comes next where rows are.
enum Next {
    /// A row of this many columns.
    Row(usize),
    Trailer,
    /// Not all of it yet.
    Short,
}

/// A stream's bytes and how far they are read.
struct Input<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Input<'a> {
    /// The next `n` bytes, or `None` where the data ends first.
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let taken = self.data.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(taken)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        Some(self.take(N)?.try_into().expect("took N bytes"))
    }

    /// Whether the whole header was there.
    fn header(&mut self) -> Result<bool, DbErr> {
        let Some(signature) = self.take(SIGNATURE.len()) else { return Ok(false) };
        if signature != SIGNATURE {
            return Err(malformed("the stream does not start with the binary COPY signature"));
        }
        let (Some(_flags), Some(extension)) = (self.array::<4>(), self.array::<4>()) else { return Ok(false) };
        Ok(self.take(u32::from_be_bytes(extension) as usize).is_some())
    }

    /// The next row's columns, into `fields`.
    fn row(&mut self, fields: &mut [Option<&'a [u8]>; COLUMNS_MAX]) -> Result<Next, DbErr> {
        let Some(count) = self.array().map(i16::from_be_bytes) else { return Ok(Next::Short) };
        if count == -1 {
            return Ok(Next::Trailer);
        }
        let count = usize::try_from(count).map_err(|_| malformed(format!("a row of {count} columns")))?;
        if count > COLUMNS_MAX {
            return Err(malformed(format!("a row of {count} columns, more than {COLUMNS_MAX}")));
        }
        for field in &mut fields[..count] {
            let Some(length) = self.array().map(i32::from_be_bytes) else { return Ok(Next::Short) };
            // A negative length is NULL.
            *field = match usize::try_from(length) {
                Ok(length) => match self.take(length) {
                    Some(bytes) => Some(bytes),
                    None => return Ok(Next::Short),
                },
                Err(_) => None,
            };
        }
        Ok(Next::Row(count))
    }
}

fn malformed(detail: impl std::fmt::Display) -> DbErr {
    DbErr::Custom(format!("binary COPY: {detail}"))
}

fn query_error(error: sea_orm::sqlx::Error) -> DbErr {
    DbErr::Query(RuntimeErr::SqlxError(Arc::new(error)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A binary COPY stream of `rows`, as PostgreSQL writes one.
    fn stream(rows: &[&[Option<&[u8]>]]) -> Vec<u8> {
        let mut data = SIGNATURE.to_vec();
        data.extend(0u32.to_be_bytes());
        data.extend(4u32.to_be_bytes());
        data.extend(b"ext!");
        for row in rows {
            data.extend((row.len() as i16).to_be_bytes());
            for field in *row {
                match field {
                    Some(bytes) => {
                        data.extend((bytes.len() as i32).to_be_bytes());
                        data.extend(*bytes);
                    }
                    None => data.extend((-1i32).to_be_bytes()),
                }
            }
        }
        data.extend((-1i16).to_be_bytes());
        data
    }

    fn read(t: &Tuple<'_>) -> Result<(i64, String), DbErr> {
        Ok((t.number(0)?, t.text(1)?.to_owned()))
    }

    /// The rows of `data` fed in chunks of `size` bytes.
    fn parse_in(data: &[u8], size: usize) -> Result<Vec<(i64, String)>, DbErr> {
        let mut decoder = Decoder::default();
        let mut rows = Vec::new();
        for chunk in data.chunks(size) {
            decoder.feed(chunk, |t| {
                rows.push(read(t)?);
                Ok(())
            })?;
        }
        decoder.finish()?;
        Ok(rows)
    }

    fn parse(data: &[u8]) -> Result<Vec<(i64, String)>, DbErr> {
        parse_in(data, data.len().max(1))
    }

    #[test]
    fn rows_are_read_by_position_past_the_header_extension_wherever_chunks_end() {
        let minus_two = (-2i64).to_be_bytes();
        let seven = 7i64.to_be_bytes();
        let data = stream(&[&[Some(&minus_two), Some("é'\\".as_bytes())], &[Some(&seven), Some(b"")]]);
        let expected = vec![(-2, "é'\\".to_owned()), (7, String::new())];
        for size in [1, 2, 3, 7, 19, 24, data.len()] {
            assert_eq!(parse_in(&data, size).unwrap(), expected, "chunks of {size} bytes");
        }
        assert_eq!(parse(&stream(&[])).unwrap(), vec![]);
    }

    #[test]
    fn a_stream_that_is_cut_short_or_holds_other_types_is_an_error() {
        let seven = 7i64.to_be_bytes();
        let whole = stream(&[&[Some(&seven), Some(b"text")]]);
        for cut in [0, 5, SIGNATURE.len() + 8, whole.len() - 3, whole.len() - 1] {
            assert!(parse(&whole[..cut]).is_err(), "cut at {cut}");
        }
        let mut trailing = whole.clone();
        trailing.push(0);
        assert!(parse(&trailing).is_err());
        let four = 4i32.to_be_bytes();
        for row in
            [&[Some(&four[..]), Some(b"x")][..], &[None, Some(b"x")], &[Some(&seven)], &[Some(&seven), Some(b"\xff")]]
        {
            let error = parse(&stream(&[row])).unwrap_err();
            assert!(error.to_string().contains("binary COPY"), "{error}");
        }
    }

    /// A pool of one connection on the PostgreSQL of
    /// `CREDITS_TEST_POSTGRES_URL` (the PostgreSQL pass of `.ci/run` sets it
    /// and runs the ignored tests that need it).
    async fn one_connection() -> PgPool {
        let url = std::env::var("CREDITS_TEST_POSTGRES_URL").expect("CREDITS_TEST_POSTGRES_URL is set");
        let options = sea_orm::sqlx::postgres::PgPoolOptions::new().max_connections(1);
        options.connect(&url).await.expect("the test database is reachable")
    }

    fn numbers(rows: &mut Vec<i64>, t: &Tuple<'_>) -> Result<(), DbErr> {
        rows.push(t.number(0)?);
        Ok(())
    }

    #[tokio::test]
    #[ignore = "needs CREDITS_TEST_POSTGRES_URL"]
    async fn a_failed_read_leaves_nothing_for_the_next_query_on_its_connection() {
        let pool = one_connection().await;
        let reads = PostgresReads::new(pool.clone(), Arc::new(AtomicU64::new(0)));
        let read = |select: &str| reads.fold(select.to_owned(), Vec::new(), numbers);
        // Refused before its first row, and failing after four rows.
        assert!(read("SELECT nothing FROM nowhere").await.is_err());
        assert!(read("SELECT CAST(10 / (5 - x) AS BIGINT) FROM generate_series(1, 9) AS x").await.is_err());
        // A row the parser refuses (an integer is not a bigint).
        assert!(read("SELECT 1").await.is_err());
        let answer: (i32,) = sea_orm::sqlx::query_as("SELECT 42").fetch_one(&pool).await.unwrap();
        assert_eq!(answer.0, 42);
        let rows = read("SELECT CAST(x AS BIGINT) FROM generate_series(1, 3) AS x").await.unwrap();
        assert_eq!(rows, vec![1, 2, 3]);
        assert_eq!(reads.statements.load(Ordering::Relaxed), 4);
    }

    #[test]
    fn literals_double_quotes_and_backslashes_and_refuse_nul() {
        assert_eq!(literal(&Value::BigInt(Some(-42))).unwrap(), "(-42)");
        assert_eq!(literal(&Value::BigInt(Some(42))).unwrap(), "42");
        assert_eq!(literal(&Value::String(Some("plain".into()))).unwrap(), "E'plain'");
        assert_eq!(literal(&Value::String(Some(r"it's \' a".into()))).unwrap(), r"E'it''s \\'' a'");
        assert!(literal(&Value::String(Some("a\0b".into()))).is_err());
        assert!(literal(&Value::Int(Some(1))).is_err());
    }
}
