//! Nesting limits, checked by a flat scan before anything recursive sees a
//! request. async-graphql's parser (pest), its value conversions, serde_json
//! and even the drop of a parsed value recurse once per level of nesting, so
//! a 3 KB document of 2,000 brackets overflowed a worker's stack and took the
//! whole process down. These scans keep a counter instead of a stack: their
//! cost is one pass over the bytes, whatever the shape.

/// Brackets (`{`, `[`, `(`) open at once in a GraphQL document. Selections
/// may nest 16 deep (`limits::QUERY_DEPTH_MAX`); this leaves room for
/// arguments and input values beside them, and far from the depth (about
/// 1,500) at which the parser ran out of stack.
pub const DOCUMENT_NESTING_MAX: usize = 64;

/// Arrays and objects open at once in a JSON body, its `variables` and
/// `extensions`, a GET's JSON parameters and a WebSocket message. The
/// request's own object and a batch's array count as levels.
pub const JSON_NESTING_MAX: usize = 32;

/// Why a request was refused before it was parsed.
pub fn too_deep(what: &str, limit: usize) -> String {
    format!("{what} nests more than {limit} levels deep")
}

/// Refuses a JSON text nested deeper than [`JSON_NESTING_MAX`]. Malformed
/// JSON passes: the parser that follows says what is wrong with it.
pub fn check_json(text: &[u8]) -> Result<(), String> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &byte in text {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > JSON_NESTING_MAX {
                    return Err(too_deep("the JSON", JSON_NESTING_MAX));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// What the document scanner is inside of.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lexeme {
    Code,
    Comment,
    String { escaped: bool },
    BlockString,
}

/// Refuses a GraphQL document whose brackets nest deeper than
/// [`DOCUMENT_NESTING_MAX`], skipping strings, block strings and comments as
/// the GraphQL lexer does. Unbalanced brackets pass: the parser reports them.
pub fn check_document(document: &str) -> Result<(), String> {
    let bytes = document.as_bytes();
    let mut depth = 0usize;
    let mut lexeme = Lexeme::Code;
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        match lexeme {
            Lexeme::Comment if matches!(byte, b'\n' | b'\r') => lexeme = Lexeme::Code,
            Lexeme::Comment => {}
            Lexeme::String { escaped: true } => lexeme = Lexeme::String { escaped: false },
            Lexeme::String { escaped: false } => match byte {
                b'\\' => lexeme = Lexeme::String { escaped: true },
                b'"' | b'\n' | b'\r' => lexeme = Lexeme::Code,
                _ => {}
            },
            Lexeme::BlockString if bytes[i..].starts_with(br#"\""""#) => i += 3,
            Lexeme::BlockString if bytes[i..].starts_with(br#"""""#) => {
                lexeme = Lexeme::Code;
                i += 2;
            }
            Lexeme::BlockString => {}
            Lexeme::Code => match byte {
                b'#' => lexeme = Lexeme::Comment,
                b'"' if bytes[i..].starts_with(br#"""""#) => {
                    lexeme = Lexeme::BlockString;
                    i += 2;
                }
                b'"' => lexeme = Lexeme::String { escaped: false },
                b'{' | b'[' | b'(' => {
                    depth += 1;
                    if depth > DOCUMENT_NESTING_MAX {
                        return Err(too_deep("the document", DOCUMENT_NESTING_MAX));
                    }
                }
                b'}' | b']' | b')' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
        i += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(open: &str, close: &str, depth: usize, inner: &str) -> String {
        format!("{}{inner}{}", open.repeat(depth), close.repeat(depth))
    }

    #[test]
    fn json_is_refused_one_level_past_the_limit_whatever_the_brackets() {
        for (open, close) in [("[", "]"), ("{\"a\":", "}"), ("[{\"a\":", "}]")] {
            let per_level = open.matches(['[', '{']).count();
            let at_limit = nested(open, close, JSON_NESTING_MAX / per_level, "1");
            assert_eq!(check_json(at_limit.as_bytes()), Ok(()), "{at_limit}");
            let past = nested(open, close, JSON_NESTING_MAX / per_level + 1, "1");
            assert!(check_json(past.as_bytes()).is_err(), "{past}");
        }
        assert!(check_json(nested("[", "]", 100_000, "").as_bytes()).is_err());
    }

    #[test]
    fn brackets_inside_json_strings_do_not_count() {
        let quoted = format!(r#"{{"query": "{}", "s": "\"{}"}}"#, "[".repeat(1000), "{".repeat(1000));
        assert_eq!(check_json(quoted.as_bytes()), Ok(()));
        // An escaped backslash ends before the quote, which then closes the string.
        let after = format!(r#"["\\", {}]"#, nested("[", "]", JSON_NESTING_MAX, ""));
        assert!(check_json(after.as_bytes()).is_err());
    }

    #[test]
    fn documents_are_refused_one_level_past_the_limit_in_any_bracket() {
        for (open, close) in [("{ a ", "}"), ("[", "]"), ("{a: ", "}"), ("(", ")")] {
            assert_eq!(check_document(&nested(open, close, DOCUMENT_NESTING_MAX, "1")), Ok(()));
            assert!(check_document(&nested(open, close, DOCUMENT_NESTING_MAX + 1, "1")).is_err());
        }
        let literal = format!("{{ plans(x: {}) {{ code }} }}", nested("[", "]", 2_000, "1"));
        assert!(check_document(&literal).is_err());
    }

    #[test]
    fn brackets_in_strings_block_strings_and_comments_do_not_count() {
        let many = "[".repeat(1_000);
        for document in [
            format!(r#"{{ a(s: "{many}") }}"#),
            format!(r#"{{ a(s: "\"{many}") }}"#),
            format!(r#"{{ a(s: """{many} \""" {many}""") }}"#),
            format!("# {many}\n{{ a }}"),
        ] {
            assert_eq!(check_document(&document), Ok(()), "{document}");
        }
        // A string ends at its line: what follows is code again.
        let unterminated = format!("{{ a(s: \"open\n{}) }}", nested("[", "]", DOCUMENT_NESTING_MAX + 1, "1"));
        assert!(check_document(&unterminated).is_err());
    }
}
