//! A statement with its values written in as literals, for the writes an
//! account transaction sends together in one round trip (`Batched`): the
//! simple query protocol that carries several statements takes no bound
//! parameters. Only the value types the store writes are accepted; anything
//! else is refused rather than guessed at.
use sea_orm::{DbErr, Statement, Value};

/// `statement`'s text with each `$n` replaced by its value as a literal.
pub fn inline(statement: &Statement) -> Result<String, DbErr> {
    let values = statement.values.as_ref().map_or(&[][..], |values| values.0.as_slice());
    let mut sql = String::with_capacity(statement.sql.len() + 16 * values.len());
    let mut rest = statement.sql.as_str();
    while let Some(at) = rest.find('$') {
        sql.push_str(&rest[..at]);
        let digits = rest[at + 1..].bytes().take_while(u8::is_ascii_digit).count();
        let index: usize = rest[at + 1..at + 1 + digits]
            .parse()
            .map_err(|_| DbErr::Custom(format!("a `$` that is not a parameter in {}", statement.sql)))?;
        let value = index
            .checked_sub(1)
            .and_then(|i| values.get(i))
            .ok_or_else(|| DbErr::Custom(format!("no value for ${index} in {}", statement.sql)))?;
        literal(value, &mut sql)?;
        rest = &rest[at + 1 + digits..];
    }
    sql.push_str(rest);
    Ok(sql)
}

fn literal(value: &Value, sql: &mut String) -> Result<(), DbErr> {
    use std::fmt::Write as _;
    let number = |sql: &mut String, n: i64| {
        // In parentheses: `- -1` must never become a `--` comment.
        let _ = if n < 0 { write!(sql, "({n})") } else { write!(sql, "{n}") };
    };
    match value {
        Value::BigInt(Some(n)) => number(sql, *n),
        Value::Int(Some(n)) => number(sql, i64::from(*n)),
        Value::SmallInt(Some(n)) => number(sql, i64::from(*n)),
        Value::Bool(Some(b)) => sql.push_str(if *b { "TRUE" } else { "FALSE" }),
        Value::String(Some(text)) => {
            if text.contains('\0') {
                return Err(DbErr::Custom("a text value holds a NUL character".into()));
            }
            // An escape string: the same meaning whatever
            // standard_conforming_strings says.
            sql.push_str("E'");
            for c in text.chars() {
                match c {
                    '\'' => sql.push_str("''"),
                    '\\' => sql.push_str("\\\\"),
                    c => sql.push(c),
                }
            }
            sql.push('\'');
        }
        Value::BigInt(None) | Value::Int(None) | Value::SmallInt(None) | Value::Bool(None) | Value::String(None) => {
            sql.push_str("NULL")
        }
        other => return Err(DbErr::Custom(format!("no literal is written for {other:?}"))),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use sea_orm::{DbBackend, Values};

    use super::*;

    fn statement(sql: &str, values: Vec<Value>) -> Statement {
        Statement { sql: sql.into(), values: Some(Values(values)), db_backend: DbBackend::Postgres }
    }

    #[test]
    fn values_are_written_in_as_literals() {
        let sql = statement(
            "UPDATE t SET a = a - $1, b = $2, c = $3, d = $4 WHERE e = $10",
            vec![
                Value::BigInt(Some(-5)),
                Value::String(Some(r"it's a \ and é".into())),
                Value::Bool(Some(true)),
                Value::BigInt(None),
                Value::Int(Some(0)),
                Value::Int(Some(0)),
                Value::Int(Some(0)),
                Value::Int(Some(0)),
                Value::Int(Some(0)),
                Value::BigInt(Some(10)),
            ],
        );
        assert_eq!(
            inline(&sql).unwrap(),
            r"UPDATE t SET a = a - (-5), b = E'it''s a \\ and é', c = TRUE, d = NULL WHERE e = 10"
        );
    }

    #[test]
    fn what_cannot_be_written_is_refused() {
        assert!(inline(&statement("SELECT $1", vec![Value::Double(Some(1.5))])).is_err());
        assert!(inline(&statement("SELECT $2", vec![Value::BigInt(Some(1))])).is_err());
        assert!(inline(&statement("SELECT $1", vec![Value::String(Some("a\0b".into()))])).is_err());
        assert!(inline(&statement("SELECT $x", vec![])).is_err());
    }
}
