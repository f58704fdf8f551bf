//! Writes joined into one statement (`account_tx::Batched`): each a
//! data-modifying `WITH` part, its values still bound parameters.
use sea_orm::{DbBackend, DbErr, Statement, Value};

/// `WITH w0 AS (<write> RETURNING 1), w1 AS (...) SELECT` the rows they
/// changed, every value still a bound parameter, renumbered: the text
/// depends only on the writes' shapes, so PostgreSQL keeps its plan.
pub fn together(writes: &[&Statement]) -> Result<Statement, DbErr> {
    let mut sql = String::from("WITH ");
    let mut values: Vec<Value> = Vec::new();
    for (i, write) in writes.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!("w{i} AS ("));
        renumber(&write.sql, values.len(), &mut sql)?;
        sql.push_str(" RETURNING 1)");
        values.extend(write.values.iter().flat_map(|values| values.0.iter().cloned()));
    }
    let counts: Vec<String> = (0..writes.len()).map(|i| format!("(SELECT count(*) FROM w{i})")).collect();
    sql.push_str(&format!(" SELECT CAST({} AS BIGINT)", counts.join(" + ")));
    Ok(Statement::from_sql_and_values(DbBackend::Postgres, sql, values))
}

/// `text` with each parameter `$n` written as `$(n + offset)`.
fn renumber(text: &str, offset: usize, sql: &mut String) -> Result<(), DbErr> {
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        sql.push_str(&rest[..at]);
        let digits = rest[at + 1..].bytes().take_while(u8::is_ascii_digit).count();
        let n: usize = rest[at + 1..at + 1 + digits]
            .parse()
            .map_err(|_| DbErr::Custom(format!("a `$` that is not a parameter in {text}")))?;
        sql.push_str(&format!("${}", n + offset));
        rest = &rest[at + 1 + digits..];
    }
    sql.push_str(rest);
    Ok(())
}

#[cfg(test)]
mod tests {
    use sea_orm::Values;

    use super::*;

    fn write(sql: &str, values: Vec<Value>) -> Statement {
        Statement { sql: sql.into(), values: Some(Values(values)), db_backend: DbBackend::Postgres }
    }

    #[test]
    fn writes_become_one_statement_with_their_parameters_renumbered() {
        let writes = [
            write(r#"INSERT INTO "a" ("x", "y") VALUES ($1, $2)"#, vec![1i64.into(), "one".into()]),
            write(r#"UPDATE "b" SET "x" = "x" - $1 WHERE "id" = $2"#, vec![5i64.into(), 7i64.into()]),
        ];
        let statement = together(&[&writes[0], &writes[1]]).unwrap();
        assert_eq!(
            statement.sql,
            r#"WITH w0 AS (INSERT INTO "a" ("x", "y") VALUES ($1, $2) RETURNING 1), w1 AS (UPDATE "b" SET "x" = "x" - $3 WHERE "id" = $4 RETURNING 1) SELECT CAST((SELECT count(*) FROM w0) + (SELECT count(*) FROM w1) AS BIGINT)"#
        );
        let values: Vec<Value> = vec![1i64.into(), "one".into(), 5i64.into(), 7i64.into()];
        assert_eq!(statement.values.unwrap().0, values);
    }

    #[test]
    fn a_dollar_that_is_not_a_parameter_is_refused() {
        assert!(renumber("SELECT $x", 0, &mut String::new()).is_err());
    }
}
