//! The result columns of the writer's statements, as rows are read back:
//! each column's name and how its declared type turns a value into the
//! one the entities read. SQLite answers both per prepared statement, but
//! asking it for every query (the names copied, each declared type
//! lowercased and searched six times per value) was a tenth of the writer's
//! instructions per charge, for columns that never change. They are worked
//! out once per statement text, as the statements themselves are prepared
//! once.
use std::collections::HashMap;
use std::sync::Arc;

use rusqlite::Statement;
use rusqlite::types::ValueRef;
use sea_orm::DbErr;
use sea_orm::sea_query::Value;

/// How a column's declared type reads a value: `boolean` as bool,
/// `integer` as i64, `real` as f64, `blob` as bytes, anything else as text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Declared {
    Boolean,
    Integer,
    Real,
    Blob,
    Text,
}

impl Declared {
    fn of(declared: &str) -> Declared {
        let declared = declared.to_ascii_lowercase();
        if declared.contains("bool") {
            Declared::Boolean
        } else if declared.contains("int") {
            Declared::Integer
        } else if ["real", "double", "float"].iter().any(|t| declared.contains(t)) {
            Declared::Real
        } else if declared.contains("blob") {
            Declared::Blob
        } else {
            Declared::Text
        }
    }

    /// A column's value as the entity reads it.
    pub(super) fn read(self, value: ValueRef<'_>) -> Result<Value, DbErr> {
        Ok(match value {
            ValueRef::Null => match self {
                Declared::Boolean => Value::Bool(None),
                Declared::Integer => Value::BigInt(None),
                Declared::Real => Value::Double(None),
                Declared::Blob => Value::Bytes(None),
                Declared::Text => Value::String(None),
            },
            ValueRef::Integer(n) => match self {
                Declared::Boolean => Value::Bool(Some(n != 0)),
                Declared::Real => Value::Double(Some(n as f64)),
                _ => Value::BigInt(Some(n)),
            },
            ValueRef::Real(x) => Value::Double(Some(x)),
            ValueRef::Text(text) => Value::String(Some(
                std::str::from_utf8(text).map_err(|_| DbErr::Custom("text that is not UTF-8".into()))?.to_owned(),
            )),
            ValueRef::Blob(bytes) => Value::Bytes(Some(bytes.to_vec())),
        })
    }
}

/// One result column: its name and its declared type.
pub(super) type Column = (String, Declared);

/// The result columns of each statement text seen, at most `capacity`
/// texts (the writer's statements are a fixed set; past it, all are
/// forgotten and worked out again).
pub(super) struct Columns {
    by_sql: HashMap<String, Arc<[Column]>>,
    capacity: usize,
}

impl Columns {
    pub(super) fn new(capacity: usize) -> Columns {
        Columns { by_sql: HashMap::new(), capacity }
    }

    /// The result columns of `statement`, prepared from `sql`.
    pub(super) fn of(&mut self, sql: &str, statement: &Statement<'_>) -> Arc<[Column]> {
        // A schema changed under a kept statement can change its columns.
        if let Some(known) = self.by_sql.get(sql)
            && known.len() == statement.column_count()
        {
            return known.clone();
        }
        let columns: Arc<[Column]> = statement
            .columns()
            .iter()
            .map(|c| (c.name().to_owned(), Declared::of(c.decl_type().unwrap_or(""))))
            .collect();
        if self.by_sql.len() >= self.capacity {
            self.by_sql.clear();
        }
        self.by_sql.insert(sql.to_owned(), columns.clone());
        columns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_types_read_as_the_entities_expect() {
        let cases = [
            ("BOOLEAN", Declared::Boolean),
            ("bigint", Declared::Integer),
            ("integer", Declared::Integer),
            ("double precision", Declared::Real),
            ("FLOAT", Declared::Real),
            ("blob", Declared::Blob),
            ("varchar", Declared::Text),
            ("", Declared::Text),
        ];
        for (declared, expected) in cases {
            assert_eq!(Declared::of(declared), expected, "{declared}");
        }
        assert_eq!(Declared::Boolean.read(ValueRef::Integer(1)).unwrap(), Value::Bool(Some(true)));
        assert_eq!(Declared::Real.read(ValueRef::Integer(2)).unwrap(), Value::Double(Some(2.0)));
        assert_eq!(Declared::Blob.read(ValueRef::Null).unwrap(), Value::Bytes(None));
        assert!(Declared::Text.read(ValueRef::Text(&[0xff])).is_err());
    }

    #[test]
    fn columns_are_worked_out_once_per_statement_text_and_again_when_they_change() {
        let connection = rusqlite::Connection::open_in_memory().unwrap();
        connection.execute_batch("CREATE TABLE t (a integer, b boolean)").unwrap();
        let mut columns = Columns::new(1);
        let sql = "SELECT * FROM t";
        let first = columns.of(sql, &connection.prepare(sql).unwrap());
        assert_eq!(&first[..], &[("a".to_owned(), Declared::Integer), ("b".to_owned(), Declared::Boolean)]);
        assert!(Arc::ptr_eq(&first, &columns.of(sql, &connection.prepare(sql).unwrap())));

        connection.execute_batch("ALTER TABLE t ADD COLUMN c real").unwrap();
        let changed = columns.of(sql, &connection.prepare(sql).unwrap());
        assert_eq!(changed.len(), 3);
        assert_eq!(changed[2], ("c".to_owned(), Declared::Real));

        // Past its capacity, what it knew is forgotten, not grown without end.
        columns.of("SELECT a FROM t", &connection.prepare("SELECT a FROM t").unwrap());
        assert_eq!(columns.by_sql.len(), 1);
    }
}
