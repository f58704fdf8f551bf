//! SQL text with its values, bound as parameters, in either engine's dialect.
use std::convert::Infallible;

use sea_orm::{DbBackend, Statement, Value};

/// SQL with its values, bound as parameters.
pub struct Sql {
    pub backend: DbBackend,
    /// The text between values: one more piece than there are values.
    pieces: Vec<String>,
    pub values: Vec<Value>,
}

impl Sql {
    pub fn new(backend: DbBackend) -> Self {
        Sql { backend, pieces: vec![String::new()], values: Vec::new() }
    }

    pub fn push(&mut self, text: &str) -> &mut Self {
        self.pieces.last_mut().expect("there is always a piece").push_str(text);
        self
    }

    pub fn value(&mut self, value: impl Into<Value>) -> &mut Self {
        self.values.push(value.into());
        self.pieces.push(String::new());
        self
    }

    /// `other` at the end of this.
    pub fn append(&mut self, other: Sql) {
        let mut pieces = other.pieces.into_iter();
        self.push(&pieces.next().unwrap_or_default());
        self.values.extend(other.values);
        self.pieces.extend(pieces);
    }

    /// ` IN (...)`, or a condition nothing meets for an empty list.
    pub fn list<V: Into<Value>>(&mut self, values: impl Iterator<Item = V>) -> &mut Self {
        let values: Vec<V> = values.collect();
        if values.is_empty() {
            return self.push(" IS NULL AND 1 = 0");
        }
        self.push(" IN (");
        for (i, value) in values.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.value(value);
        }
        self.push(")")
    }

    /// A subquery of one column, `day`: `start_ms`, then every `step_ms`
    /// up to `last_ms`. PostgreSQL has a function for it; SQLite counts
    /// with a recursive CTE.
    pub fn day_series(&mut self, start_ms: i64, last_ms: i64, step_ms: i64) -> &mut Self {
        match self.backend {
            DbBackend::Postgres => self
                .push("(SELECT day FROM generate_series(CAST(")
                .value(start_ms)
                .push(" AS BIGINT), CAST(")
                .value(last_ms)
                .push(&format!(" AS BIGINT), CAST({step_ms} AS BIGINT)) AS series(day))")),
            _ => self
                .push("(WITH RECURSIVE days(day) AS (SELECT ")
                .value(start_ms)
                .push(&format!(" UNION ALL SELECT day + {step_ms} FROM days WHERE day < "))
                .value(last_ms)
                .push(") SELECT day FROM days)"),
        }
    }

    /// The text with each value written by `write` (given its number from 1).
    fn text<E>(&self, mut write: impl FnMut(usize, &Value) -> Result<String, E>) -> Result<String, E> {
        let mut text = self.pieces[0].clone();
        for (i, (value, piece)) in self.values.iter().zip(&self.pieces[1..]).enumerate() {
            text.push_str(&write(i + 1, value)?);
            text.push_str(piece);
        }
        Ok(text)
    }

    /// A statement with the backend's placeholders and the values bound.
    pub fn statement(&self) -> Statement {
        let Ok(text) = self.text::<Infallible>(|n, _| {
            Ok(match self.backend {
                DbBackend::Postgres => format!("${n}"),
                _ => "?".to_owned(),
            })
        });
        Statement::from_sql_and_values(self.backend, text, self.values.clone())
    }
}
