use chrono::{TimeZone, Utc};

use super::*;
use crate::domain::error::ErrorCode;

fn seed() -> Catalog {
    let document = parse_document(migration::seed::CATALOG_TOML).expect("the seed parses");
    Catalog::from_document(document, 1).expect("the seed is valid")
}

#[test]
fn the_seed_prints_and_reads_back_as_itself() {
    let catalog = seed();
    let printed = print_document(catalog.document());
    let again = Catalog::from_document(parse_document(&printed).unwrap(), 1).unwrap();
    assert_eq!(again.document(), catalog.document());
    assert_eq!(again.tools.len(), catalog.tools.len());
    assert!(again.tool("text-to-image").unwrap().requires_model);
    assert_eq!(again.model("sdxl").unwrap().tools, ["text-to-image", "image-to-image"]);
}

#[test]
fn a_scheduled_price_takes_effect_at_its_instant() {
    let now = Utc.with_ymd_and_hms(2026, 12, 7, 12, 0, 0).unwrap();
    let later = now + chrono::Duration::hours(1);
    let input = PriceInput {
        tool: "text-to-image".into(),
        model_id: Some("sdxl".into()),
        millicredits_per_unit: 4_500,
        effective_at: Some(later),
    };
    let (next, diff) = CatalogChange::Price(input).apply(&seed(), now).unwrap();
    assert_eq!(next.version, 2);
    assert!(diff.after.contains_key("tool:text-to-image"));
    let tool = next.tool("text-to-image").unwrap();
    let at = |t: chrono::DateTime<Utc>| next.unit_price(tool, Some("sdxl"), t.timestamp_millis());
    assert_eq!(at(now), Some(3_000));
    assert_eq!(at(later - chrono::Duration::milliseconds(1)), Some(3_000));
    assert_eq!(at(later), Some(4_500));
    // An immediate price after it is in effect supersedes it.
    let input = PriceInput {
        tool: "text-to-image".into(),
        model_id: Some("sdxl".into()),
        millicredits_per_unit: 5_000,
        effective_at: None,
    };
    let (third, _) = CatalogChange::Price(input).apply(&next, later).unwrap();
    let tool = third.tool("text-to-image").unwrap();
    assert_eq!(third.unit_price(tool, Some("sdxl"), later.timestamp_millis() + 1), Some(5_000));
    assert!(third.scheduled_prices("text-to-image").is_empty());
}

#[test]
fn a_change_that_changes_nothing_has_an_empty_diff() {
    let catalog = seed();
    let same = TokenPack { id: "tokens-500".into(), tokens: 500, price_cents: 500 };
    let (_, diff) = CatalogChange::TokenPack(same).apply(&catalog, Utc::now()).unwrap();
    assert!(diff.is_empty());
}

#[test]
fn a_document_that_drops_an_entry_or_misprices_is_refused() {
    let catalog = seed();
    let mut dropped = catalog.document().clone();
    dropped.token_packs.pop();
    let error = CatalogChange::Import(Box::new(dropped)).apply(&catalog, Utc::now()).unwrap_err();
    assert_eq!((error.code(), error.field()), (ErrorCode::InvalidInput, Some("file")));
    assert!(error.to_string().contains("retire it instead"), "{error}");
    let mut free = catalog.document().clone();
    free.studios[0].tools[0].models.insert("sdxl".into(), 0.0);
    let error = CatalogChange::Import(Box::new(free)).apply(&catalog, Utc::now()).unwrap_err();
    assert!(error.to_string().contains("positive"), "{error}");
}
