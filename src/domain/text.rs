//! The strings the API takes, each with a length limit and the characters it
//! may hold, checked before any of them reaches a database.
//!
//! PostgreSQL's text cannot hold NUL and SQLite's can: unchecked, the same
//! request would be stored on one and fail as an internal error on the
//! other. Control characters in an identifier are a client's bug or a
//! forgery (they are invisible in logs and dashboards), so identifiers
//! refuse every one; free text keeps tab and line breaks. Without a limit a
//! string would be bounded only by the body size, and stored, indexed and
//! logged at that size.
//!
//! Lengths count characters (Unicode scalar values: what `str::chars` and
//! PostgreSQL's `length` count), so a limit does not depend on how the
//! client's language encodes text; in UTF-8 a value is at most four bytes a
//! character.
use super::error::DomainError;

/// The characters a string input may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextClass {
    /// Account ids come from the identity provider and name rows, logs and
    /// tokens: 1 or more ASCII letters, digits or `- _ . : @ |`.
    AccountId,
    /// Keys, references, codes, ids, cursors, zones: any character but a
    /// control character (Unicode category Cc: U+0000-U+001F, U+007F-U+009F).
    Identifier,
    /// Text a person writes: an identifier's characters, and tab, line feed
    /// and carriage return.
    FreeText,
}

impl TextClass {
    fn allows(self, c: char) -> bool {
        match self {
            TextClass::AccountId => c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '@' | '|'),
            TextClass::Identifier => !c.is_control(),
            TextClass::FreeText => !c.is_control() || matches!(c, '\t' | '\n' | '\r'),
        }
    }

    /// What the class allows, as the README and error messages say it.
    pub fn describe(self) -> &'static str {
        match self {
            TextClass::AccountId => "letters, digits or - _ . : @ |",
            TextClass::Identifier => "no control character",
            TextClass::FreeText => "no control character but tab, line feed and carriage return",
        }
    }
}

/// One row of the table: a string input of the API and its limits.
#[derive(Clone, Copy, Debug)]
pub struct TextInput {
    /// The input field an error names.
    pub field: &'static str,
    /// The schema's input fields and arguments checked by this row.
    pub names: &'static [&'static str],
    /// In characters; for a list, of each value.
    pub length_max: usize,
    pub class: TextClass,
}

const fn row(field: &'static str, length_max: usize, class: TextClass) -> TextInput {
    TextInput { field, names: &[], length_max, class }
}

const fn identifier(field: &'static str, length_max: usize) -> TextInput {
    row(field, length_max, TextClass::Identifier)
}

/// Catalog codes are short slugs ("text-to-image"); 64 leaves room for any.
const CODE_LENGTH_MAX: usize = 64;
/// Cursors the server makes are at most 86 characters (a usage cursor of
/// the most extreme position); longer ones are forged.
const CURSOR_LENGTH_MAX: usize = 128;
/// Reservation and usage event ids are decimal 64-bit integers: 19 digits
/// and a sign. A longer one is no id of ours.
const NUMERIC_ID_LENGTH_MAX: usize = 20;

pub const ACCOUNT_ID: TextInput =
    TextInput { names: &["accountId", "id"], ..row("accountId", 128, TextClass::AccountId) };
/// Client-chosen; a UUID is 36, a composite key ("job-…:attempt-…") more.
pub const IDEMPOTENCY_KEY: TextInput = identifier("idempotencyKey", 200);
pub const PAYMENT_REFERENCE: TextInput = identifier("paymentReference", 200);
/// A grant's or refund's reason: a sentence or two for the ledger.
pub const REASON: TextInput = row("reason", 500, TextClass::FreeText);
pub const TOOL: TextInput = identifier("tool", CODE_LENGTH_MAX);
pub const MODEL_ID: TextInput = identifier("modelId", CODE_LENGTH_MAX);
pub const PLAN_CODE: TextInput = identifier("planCode", CODE_LENGTH_MAX);
pub const PACK_ID: TextInput = identifier("packId", CODE_LENGTH_MAX);
/// A generation option's name and value; reported as `options`, the list
/// they are given in, as the pricing's own option errors are.
pub const OPTION: TextInput = TextInput { names: &["name", "value"], ..identifier("options", CODE_LENGTH_MAX) };
pub const RESERVATION_ID: TextInput = identifier("reservationId", NUMERIC_ID_LENGTH_MAX);
pub const USAGE_EVENT_ID: TextInput = identifier("usageEventId", NUMERIC_ID_LENGTH_MAX);
pub const TOP_UP_ID: TextInput = identifier("topUpId", NUMERIC_ID_LENGTH_MAX);
/// Usage filter lists: tool codes and model ids.
pub const TOOLS: TextInput = identifier("tools", CODE_LENGTH_MAX);
pub const MODEL_IDS: TextInput = identifier("modelIds", CODE_LENGTH_MAX);
pub const AFTER: TextInput = identifier("after", CURSOR_LENGTH_MAX);
pub const BEFORE: TextInput = identifier("before", CURSOR_LENGTH_MAX);
/// IANA names are at most 32 characters ("America/Argentina/ComodRivadavia").
pub const TIME_ZONE: TextInput = identifier("timeZone", 64);
/// Webhook endpoint URLs: browsers and proxies handle 2048 everywhere.
pub const WEBHOOK_URL: TextInput = identifier("url", 2048);
/// Event type names (`subscription.renewed`); unknown ones are refused after.
pub const EVENT_TYPES: TextInput = identifier("eventTypes", CODE_LENGTH_MAX);
/// The event log's filter by type.
pub const EVENT_TYPE_FILTER: TextInput = identifier("types", CODE_LENGTH_MAX);
/// A webhook endpoint's id: a replay's `endpointId`, and the `id` of the
/// mutations on one endpoint (the schema name `id` is in the account id's
/// row; those inputs check with [`WEBHOOK_ENDPOINT_AS_ID`]).
pub const ENDPOINT_ID: TextInput = identifier("endpointId", NUMERIC_ID_LENGTH_MAX);
pub const WEBHOOK_ENDPOINT_AS_ID: TextInput = TextInput { field: "id", ..ENDPOINT_ID };
/// `evt_` and a numeric id.
pub const EVENT_ID: TextInput = identifier("eventId", NUMERIC_ID_LENGTH_MAX + 4);
/// The code or id of a tool, model, plan or token pack an admin writes
/// (as `id`, a model's and a pack's, reported on `id`).
pub const CATALOG_CODE: TextInput = identifier("code", CODE_LENGTH_MAX);
/// The display name of a catalog entry (the schema's `name` is `OPTION`'s
/// row; an entry's name is longer).
pub const CATALOG_NAME: TextInput = identifier("name", 200);

/// Every string input of the API. A test reads the schema and fails when a
/// `String` or `ID` input field or argument has no row here.
pub const TEXT_INPUTS: &[TextInput] = &[
    ACCOUNT_ID,
    IDEMPOTENCY_KEY,
    PAYMENT_REFERENCE,
    REASON,
    TOOL,
    MODEL_ID,
    PLAN_CODE,
    PACK_ID,
    OPTION,
    RESERVATION_ID,
    USAGE_EVENT_ID,
    TOP_UP_ID,
    TOOLS,
    MODEL_IDS,
    AFTER,
    BEFORE,
    TIME_ZONE,
    WEBHOOK_URL,
    EVENT_TYPES,
    EVENT_TYPE_FILTER,
    ENDPOINT_ID,
    EVENT_ID,
    CATALOG_CODE,
];

/// Account ids come from the identity provider and name rows, logs and
/// tokens: the one check every way into an account passes (a resolver, a
/// store write, a snapshot), with the rule of its row in the table.
pub fn validate_account_id(id: &str) -> Result<(), DomainError> {
    ACCOUNT_ID.check(id)
}

impl TextInput {
    /// The schema names this row checks: its field unless it lists others.
    pub fn schema_names(&self) -> &[&'static str] {
        if self.names.is_empty() { std::slice::from_ref(&self.field) } else { self.names }
    }

    /// Refuses `value` beyond the length limit or holding a character its
    /// class does not allow, with INVALID_INPUT naming the field.
    pub fn check(&self, value: &str) -> Result<(), DomainError> {
        if self.class == TextClass::AccountId {
            return self.check_account_id(value);
        }
        // Counting stops after the limit: a huge value costs no more than a long one.
        if value.chars().nth(self.length_max).is_some() {
            return Err(DomainError::invalid(
                self.field,
                format!("{} must be at most {} characters", self.field, self.length_max),
            ));
        }
        match value.chars().find(|&c| !self.class.allows(c)) {
            None => Ok(()),
            Some(c) => Err(DomainError::invalid(
                self.field,
                format!("{} must contain {} (found U+{:04X})", self.field, self.class.describe(), u32::from(c)),
            )),
        }
    }

    /// As `check`, for an input that may be absent.
    pub fn check_optional(&self, value: Option<&str>) -> Result<(), DomainError> {
        value.map_or(Ok(()), |value| self.check(value))
    }

    /// As `check`, for each value of a list.
    pub fn check_each<'a>(&self, values: impl IntoIterator<Item = &'a str>) -> Result<(), DomainError> {
        values.into_iter().try_for_each(|value| self.check(value))
    }

    /// Account ids keep the message they always had: it says all of the rule.
    fn check_account_id(&self, id: &str) -> Result<(), DomainError> {
        let valid = !id.is_empty() && id.len() <= self.length_max && id.chars().all(|c| self.class.allows(c));
        if valid {
            Ok(())
        } else {
            Err(DomainError::invalid(
                self.field,
                format!("an account id is 1 to {} {}", self.length_max, self.class.describe()),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::error::ErrorCode;

    fn refused(input: &TextInput, value: &str) -> Option<(&'static str, String)> {
        match input.check(value) {
            Ok(()) => None,
            Err(error) => {
                assert_eq!(error.code(), ErrorCode::InvalidInput, "{value:?}");
                Some((error.field().unwrap_or_default(), error.to_string()))
            }
        }
    }

    #[test]
    fn every_row_refuses_nul_and_a_value_past_its_limit_and_takes_one_at_it() {
        for input in TEXT_INPUTS {
            let at_limit = "a".repeat(input.length_max);
            assert_eq!(refused(input, &at_limit), None, "{}", input.field);
            let (field, message) = refused(input, &format!("{at_limit}a")).expect("one past the limit");
            assert_eq!(field, input.field);
            assert!(message.contains(&input.length_max.to_string()), "{message}");
            for nul in ["\0", "a\0b", "ab\0"] {
                assert_eq!(refused(input, nul).map(|(field, _)| field), Some(input.field), "{nul:?}");
            }
        }
    }

    #[test]
    fn identifiers_refuse_every_control_character_free_text_keeps_tab_and_line_breaks() {
        let controls = (0u32..0x20).chain(0x7f..0xa0).filter_map(char::from_u32);
        for c in controls {
            let value = format!("a{c}b");
            assert!(refused(&IDEMPOTENCY_KEY, &value).is_some(), "U+{:04X}", u32::from(c));
            assert!(refused(&ACCOUNT_ID, &value).is_some(), "U+{:04X}", u32::from(c));
            let kept = matches!(c, '\t' | '\n' | '\r');
            assert_eq!(refused(&REASON, &value).is_none(), kept, "U+{:04X}", u32::from(c));
        }
        let (_, message) = refused(&REASON, "a\u{7}b").unwrap();
        assert_eq!(
            message,
            "reason must contain no control character but tab, line feed and carriage return (found U+0007)"
        );
    }

    #[test]
    fn identifiers_take_any_printable_character() {
        for value in ["it's", r"back\slash", "'); DELETE FROM x; --", "é\u{1F600}", "\u{200B}", " ", ""] {
            assert_eq!(refused(&IDEMPOTENCY_KEY, value), None, "{value:?}");
            assert_eq!(refused(&REASON, value), None, "{value:?}");
        }
    }

    #[test]
    fn lengths_count_characters_not_bytes() {
        let four_bytes_each = "\u{1F600}".repeat(TOOL.length_max);
        assert_eq!(refused(&TOOL, &four_bytes_each), None);
        assert!(refused(&TOOL, &format!("{four_bytes_each}a")).is_some());
        let (_, message) = refused(&TOOL, &"t".repeat(1_000_000)).unwrap();
        assert_eq!(message, "tool must be at most 64 characters");
    }

    #[test]
    fn account_ids_keep_their_own_rule() {
        for id in ["user_1", "auth0|abc", "a@b.c", "x:y-z", &"a".repeat(128)] {
            assert_eq!(refused(&ACCOUNT_ID, id), None, "{id}");
        }
        for id in ["", "has space", "é", "a/b", &"a".repeat(129)] {
            let (field, message) = refused(&ACCOUNT_ID, id).expect(id);
            assert_eq!(
                (field, message.as_str()),
                ("accountId", "an account id is 1 to 128 letters, digits or - _ . : @ |")
            );
        }
    }

    #[test]
    fn account_ids_are_validated_by_their_row() {
        for id in ["user_1", "auth0|abc", &"a".repeat(128)] {
            assert_eq!(validate_account_id(id), Ok(()), "{id}");
        }
        for id in ["", "a b", "a\0", "ü", &"a".repeat(129)] {
            let refused = validate_account_id(id).unwrap_err();
            assert_eq!((refused.code(), refused.field()), (ErrorCode::InvalidInput, Some("accountId")), "{id:?}");
            assert_eq!(Err(refused), ACCOUNT_ID.check(id));
        }
    }

    #[test]
    fn lists_and_absent_values() {
        assert_eq!(TOOLS.check_each(["upscale", "text-to-image"]), Ok(()));
        let error = TOOLS.check_each(["upscale", "a\0"]).unwrap_err();
        assert_eq!(error.field(), Some("tools"));
        assert_eq!(TIME_ZONE.check_optional(None), Ok(()));
        assert!(TIME_ZONE.check_optional(Some("UTC\n")).is_err());
    }

    #[test]
    fn each_schema_name_has_one_row() {
        let mut names: Vec<&str> = TEXT_INPUTS.iter().flat_map(|input| input.schema_names()).copied().collect();
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count, "a schema name in two rows: {names:?}");
    }
}
