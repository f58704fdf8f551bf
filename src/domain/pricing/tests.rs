use super::*;
use crate::domain::catalog::{GenerationOption, Model, OptionValue, Studio, Tool};
use crate::domain::error::ErrorCode;

use PriceUnit::{Output, Second, ThousandCharacters};
use StudioKind::{Image, Music, Video, Voice};

fn tool(code: &str, studio: StudioKind, unit: PriceUnit, tool_price: Option<i64>, models: &[(&str, i64)]) -> Tool {
    Tool {
        code: code.into(),
        name: code.into(),
        studio,
        unit,
        requires_model: !models.is_empty(),
        tool_price_millicredits: tool_price,
        model_prices_millicredits: models.iter().map(|(id, price)| (id.to_string(), *price)).collect(),
    }
}

fn model(id: &str, studio: StudioKind, pro: bool) -> Model {
    Model { id: id.into(), name: id.into(), studio, pro, tools: Vec::new() }
}

fn option(studio: StudioKind, name: &str, default: Option<&str>, values: &[(&str, i64)]) -> GenerationOption {
    let values = values
        .iter()
        .map(|(value, multiplier_permille)| OptionValue {
            value: value.to_string(),
            multiplier_permille: *multiplier_permille,
            is_default: Some(*value) == default,
        })
        .collect();
    GenerationOption { studio, name: name.into(), values }
}

/// Prices in millicredits: 1_500 is 1.5 credits per unit.
fn catalog() -> Catalog {
    let studios = StudioKind::ALL.iter().map(|&kind| Studio { kind, name: kind.as_str().into() }).collect();
    let image_models = [("flux-schnell", 2_000), ("sdxl", 1_500), ("flux-pro", 8_000)];
    let tools = vec![
        tool("text-to-image", Image, Output, None, &image_models),
        tool("upscale", Image, Output, Some(2_000), &[]),
        tool("preview", Image, Output, Some(0), &[]),
        tool("text-to-video", Video, Second, None, &[("wan-2", 500), ("veo-3", 10_000)]),
        tool("text-to-music", Music, Second, Some(500), &[]),
        tool("text-to-speech", Voice, ThousandCharacters, Some(2_000), &[]),
        tool("voice-clone", Voice, ThousandCharacters, None, &[("eleven", 300)]),
    ];
    let models = vec![
        model("flux-schnell", Image, false),
        model("sdxl", Image, false),
        model("flux-pro", Image, true),
        model("wan-2", Video, false),
        model("veo-3", Video, true),
        model("eleven", Voice, false),
    ];
    let options = vec![
        option(Image, "resolution", Some("1024"), &[("512", 500), ("1024", 1_000), ("2048", 2_000)]),
        option(Image, "quality", Some("standard"), &[("standard", 1_000), ("high", 1_500)]),
        // A default that is not x1.0.
        option(Video, "resolution", Some("1080p"), &[("720p", 1_000), ("1080p", 1_500), ("4k", 3_000)]),
        // No default: absent means x1.0.
        option(Voice, "emotion", None, &[("neutral", 1_000), ("dramatic", 2_000)]),
    ];
    Catalog::new(studios, tools, models, options, Vec::new(), Vec::new())
}

fn request(tool: &str, model_id: Option<&str>) -> GenerationRequest {
    GenerationRequest {
        tool: tool.into(),
        model_id: model_id.map(Into::into),
        count: 1,
        duration_seconds: None,
        characters: None,
        options: Vec::new(),
    }
}

fn seconds(tool: &str, model_id: Option<&str>, duration: i64) -> GenerationRequest {
    GenerationRequest { duration_seconds: Some(duration), ..request(tool, model_id) }
}

fn characters(tool: &str, model_id: Option<&str>, characters: i64) -> GenerationRequest {
    GenerationRequest { characters: Some(characters), ..request(tool, model_id) }
}

fn with_options(request: GenerationRequest, options: &[(&str, &str)]) -> GenerationRequest {
    let options = options.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect();
    GenerationRequest { options, ..request }
}

fn priced(request: &GenerationRequest) -> PricedGeneration {
    price(&catalog(), request, chrono::Utc::now()).unwrap_or_else(|e| panic!("{request:?} should be priced: {e}"))
}

fn credits(request: &GenerationRequest) -> i64 {
    priced(request).credits.get()
}

fn error(request: &GenerationRequest) -> DomainError {
    match price(&catalog(), request, chrono::Utc::now()) {
        Ok(priced) => panic!("{request:?} should fail, got {priced:?}"),
        Err(e) => e,
    }
}

fn assert_invalid(request: &GenerationRequest, field: &str) {
    let e = error(request);
    assert_eq!(e.code(), ErrorCode::InvalidInput, "{request:?}: {e}");
    assert_eq!(e.field(), Some(field), "{request:?}: {e}");
}

/// The credits for a valid request, or the field at fault.
fn outcome(request: &GenerationRequest) -> Result<i64, &'static str> {
    match price(&catalog(), request, chrono::Utc::now()) {
        Ok(priced) => Ok(priced.credits.get()),
        Err(e) => {
            assert_eq!(e.code(), ErrorCode::InvalidInput, "{request:?}: {e}");
            Err(e.field().expect("invalid input names its field"))
        }
    }
}

#[test]
fn output_tools_cost_the_price_of_an_output() {
    let cases = [
        (request("upscale", None), 2),
        (request("text-to-image", Some("flux-schnell")), 2),
        (request("text-to-image", Some("flux-pro")), 8),
        (GenerationRequest { count: 4, ..request("upscale", None) }, 8),
    ];
    for (request, expected) in cases {
        let priced = priced(&request);
        assert_eq!(priced.credits, Credits::new(expected), "{request:?}");
        assert_eq!(priced.units, None, "{request:?}");
    }
}

#[test]
fn second_tools_cost_the_price_of_a_second_rounded_up() {
    // 0.5 credit per second.
    for (duration, expected) in [(1, 1), (2, 1), (3, 2), (10, 5), (3_600, 1_800)] {
        let priced = priced(&seconds("text-to-music", None, duration));
        assert_eq!(priced.credits, Credits::new(expected), "{duration} s");
        assert_eq!(priced.units, Some(duration));
    }
    // 0.5 credit per second per model, at the 720p multiplier of 1.0.
    assert_eq!(credits(&with_options(seconds("text-to-video", Some("wan-2"), 7), &[("resolution", "720p")])), 4);
}

#[test]
fn thousand_character_tools_charge_every_started_thousand() {
    // 2 credits per thousand characters.
    let cases = [(1, 1), (999, 2), (1_000, 2), (1_001, 3), (2_000, 4), (2_001, 5), (1_000_000, 2_000)];
    for (count, expected) in cases {
        let priced = priced(&characters("text-to-speech", None, count));
        assert_eq!(priced.credits, Credits::new(expected), "{count} characters");
        assert_eq!(priced.units, Some(count));
    }
    // 0.3 credit per thousand characters, priced per model.
    for (count, expected) in [(1, 1), (1_000, 1), (3_333, 1), (3_334, 2), (10_000, 3), (10_001, 4)] {
        assert_eq!(credits(&characters("voice-clone", Some("eleven"), count)), expected, "{count} characters");
    }
}

#[test]
fn an_output_is_rounded_up_to_a_whole_credit_before_the_count() {
    // 1.5 per output x 3 = 2 x 3 = 6, never 4.5 rounded to 5.
    let sdxl = GenerationRequest { count: 3, ..request("text-to-image", Some("sdxl")) };
    let priced = priced(&sdxl);
    assert_eq!((priced.credits_per_output, priced.credits), (Credits::new(2), Credits::new(6)));
    // 3 s at 0.5 credit = 1.5 per output x 3 = 6.
    let music = GenerationRequest { count: 3, ..seconds("text-to-music", None, 3) };
    assert_eq!(credits(&music), 6);
    // 1001 characters at 2 per thousand = 2.002 -> 3 per output x 2 = 6.
    let speech = GenerationRequest { count: 2, ..characters("text-to-speech", None, 1_001) };
    assert_eq!(credits(&speech), 6);
}

#[test]
fn exact_prices_are_not_rounded_up() {
    let cases = [
        // 2 x 1.0 x 1.5 = 3.000
        with_options(request("text-to-image", Some("flux-schnell")), &[("quality", "high")]),
        // 1.5 x 2.0 x 1.0 = 3.000
        with_options(request("text-to-image", Some("sdxl")), &[("resolution", "2048")]),
        // 0.5 x 6 x 1.0 = 3.000
        with_options(seconds("text-to-video", Some("wan-2"), 6), &[("resolution", "720p")]),
        // 0.5 x 4 x 1.5 (default) = 3.000
        seconds("text-to-video", Some("wan-2"), 4),
        // 0.3 x 10 = 3.000
        characters("voice-clone", Some("eleven"), 10_000),
    ];
    for request in cases {
        assert_eq!(credits(&request), 3, "{request:?}");
    }
}

#[test]
fn every_combination_of_two_options_multiplies() {
    // resolution x0.5 / x1 / x2 by quality x1 / x1.5, each rounded up.
    let resolutions = ["512", "1024", "2048"];
    let qualities = ["standard", "high"];
    // flux-schnell is 2 credits, sdxl 1.5 (1.5 x 2.0 x 1.0 = 3 exactly, 1.5 x 2.0 x 1.5 = 4.5 -> 5).
    let models = [("flux-schnell", [[1, 2], [2, 3], [4, 6]]), ("sdxl", [[1, 2], [2, 3], [3, 5]])];
    for (model, table) in models {
        for (resolution, row) in resolutions.into_iter().zip(table) {
            for (quality, expected) in qualities.into_iter().zip(row) {
                let options = [("resolution", resolution), ("quality", quality)];
                let request = with_options(request("text-to-image", Some(model)), &options);
                assert_eq!(credits(&request), expected, "{model} {resolution} {quality}");
            }
        }
    }
}

#[test]
fn defaults_apply_when_options_are_absent() {
    let flux = || request("text-to-image", Some("flux-schnell"));
    let image = [
        (vec![], 2),
        (vec![("resolution", "2048")], 4),
        (vec![("quality", "high")], 3),
        (vec![("resolution", "512")], 1),
    ];
    for (options, expected) in image {
        assert_eq!(credits(&with_options(flux(), &options)), expected, "{options:?}");
    }
    // The video default (1080p) is x1.5: 0.5 x 10 x 1.5 = 7.5 -> 8.
    let video = [(vec![], 8), (vec![("resolution", "1080p")], 8), (vec![("resolution", "720p")], 5)];
    for (options, expected) in video {
        assert_eq!(credits(&with_options(seconds("text-to-video", Some("wan-2"), 10), &options)), expected);
    }
    assert_eq!(credits(&seconds("text-to-video", Some("veo-3"), 1)), 15);
}

#[test]
fn an_option_without_default_is_neutral_when_absent() {
    let speech = || characters("text-to-speech", None, 1_000);
    assert_eq!(credits(&speech()), 2);
    assert_eq!(credits(&with_options(speech(), &[("emotion", "neutral")])), 2);
    assert_eq!(credits(&with_options(speech(), &[("emotion", "dramatic")])), 4);
}

#[test]
fn options_are_echoed_as_given_sorted_by_name() {
    let flux = || request("text-to-image", Some("flux-schnell"));
    let given = with_options(flux(), &[("resolution", "2048"), ("quality", "high")]);
    let expected = vec![("quality".to_string(), "high".to_string()), ("resolution".into(), "2048".into())];
    assert_eq!(priced(&given).options, expected);
    // Defaults are applied, not echoed.
    assert_eq!(priced(&flux()).options, Vec::new());
}

#[test]
fn a_zero_price_tool_costs_nothing() {
    let cases = [
        request("preview", None),
        GenerationRequest { count: 100, ..request("preview", None) },
        with_options(request("preview", None), &[("resolution", "2048"), ("quality", "high")]),
    ];
    for request in cases {
        let priced = priced(&request);
        assert_eq!((priced.credits_per_output, priced.credits), (Credits::ZERO, Credits::ZERO), "{request:?}");
    }
}

#[test]
fn count_bounds() {
    let cases = [(i64::MIN, Err("count")), (-1, Err("count")), (0, Err("count")), (1, Ok(2)), (100, Ok(200))];
    let over = [(101, Err("count")), (i64::MAX, Err("count"))];
    for (count, expected) in cases.into_iter().chain(over) {
        assert_eq!(outcome(&GenerationRequest { count, ..request("upscale", None) }), expected, "count {count}");
    }
}

#[test]
fn duration_bounds() {
    let field = Err("durationSeconds");
    let cases = [(-1, field), (0, field), (1, Ok(1)), (3_600, Ok(1_800)), (3_601, field), (i64::MAX, field)];
    for (duration, expected) in cases {
        assert_eq!(outcome(&seconds("text-to-music", None, duration)), expected, "{duration} s");
    }
    assert_eq!(outcome(&request("text-to-music", None)), field);
    assert_eq!(outcome(&request("text-to-video", Some("wan-2"))), field);
}

#[test]
fn character_bounds() {
    let field = Err("characters");
    let cases = [(-1, field), (0, field), (1, Ok(1)), (1_000_000, Ok(2_000)), (1_000_001, field)];
    for (count, expected) in cases {
        assert_eq!(outcome(&characters("text-to-speech", None, count)), expected, "{count} characters");
    }
    assert_eq!(outcome(&request("text-to-speech", None)), field);
    assert_eq!(outcome(&request("voice-clone", Some("eleven"))), field);
}

#[test]
fn the_largest_generation_is_priced_without_overflow() {
    let largest = GenerationRequest { count: COUNT_MAX, ..seconds("text-to-video", Some("veo-3"), 3_600) };
    // 10 credits x 3600 s x 3.0 (4k) x 100 outputs.
    assert_eq!(credits(&with_options(largest, &[("resolution", "4k")])), 10_800_000);
}

#[test]
fn an_unknown_tool_is_unknown_tool() {
    let e = error(&request("text-to-everything", None));
    assert_eq!(e, DomainError::UnknownTool { code: "text-to-everything".into() });
    assert_eq!((e.code(), e.field()), (ErrorCode::UnknownTool, Some("tool")));
}

#[test]
fn a_model_not_in_the_catalog_or_not_running_the_tool_is_unknown_model() {
    let cases = [
        request("text-to-image", Some("no-such-model")),
        // In the catalog, but another studio's.
        request("text-to-image", Some("wan-2")),
        seconds("text-to-video", Some("flux-pro"), 5),
        characters("voice-clone", Some("sdxl"), 5),
    ];
    for request in cases {
        let e = error(&request);
        assert!(matches!(e, DomainError::UnknownModel { .. }), "{request:?}: {e:?}");
        assert_eq!((e.code(), e.field()), (ErrorCode::UnknownModel, Some("modelId")), "{request:?}");
    }
}

#[test]
fn a_tool_priced_per_model_needs_a_model() {
    assert_invalid(&request("text-to-image", None), "modelId");
    assert_invalid(&seconds("text-to-video", None, 5), "modelId");
    assert_invalid(&characters("voice-clone", None, 5), "modelId");
}

#[test]
fn a_tool_priced_by_itself_takes_no_model() {
    assert_invalid(&request("upscale", Some("flux-schnell")), "modelId");
    assert_invalid(&request("upscale", Some("no-such-model")), "modelId");
    assert_invalid(&seconds("text-to-music", Some("wan-2"), 5), "modelId");
}

#[test]
fn a_measure_the_tool_is_not_priced_by_is_refused() {
    let image = || request("text-to-image", Some("sdxl"));
    let cases = [
        (GenerationRequest { duration_seconds: Some(5), ..image() }, "durationSeconds"),
        (GenerationRequest { characters: Some(5), ..image() }, "characters"),
        (GenerationRequest { characters: Some(5), ..seconds("text-to-music", None, 5) }, "characters"),
        (GenerationRequest { duration_seconds: Some(5), ..characters("text-to-speech", None, 5) }, "durationSeconds"),
    ];
    for (request, field) in cases {
        assert_invalid(&request, field);
    }
}

#[test]
fn unknown_option_names_and_values_are_refused() {
    let image = || request("text-to-image", Some("sdxl"));
    let cases = [
        with_options(image(), &[("style", "anime")]),
        // Another studio's option.
        with_options(image(), &[("emotion", "dramatic")]),
        with_options(seconds("text-to-video", Some("wan-2"), 5), &[("quality", "high")]),
        // Unknown values, including another studio's value of an option of the same name.
        with_options(image(), &[("resolution", "4096")]),
        with_options(image(), &[("resolution", "4k")]),
        with_options(image(), &[("quality", "")]),
        with_options(seconds("text-to-music", None, 5), &[("resolution", "720p")]),
    ];
    for request in cases {
        assert_invalid(&request, "options");
    }
}

#[test]
fn an_option_given_twice_is_refused() {
    let image = || request("text-to-image", Some("sdxl"));
    for twice in [[("resolution", "512"), ("resolution", "512")], [("resolution", "512"), ("resolution", "2048")]] {
        let e = error(&with_options(image(), &twice));
        assert_eq!((e.code(), e.field()), (ErrorCode::InvalidInput, Some("options")));
        assert!(e.to_string().contains("twice"), "{e}");
    }
}

#[test]
fn pro_is_true_exactly_for_pro_models() {
    let cases = [
        (request("text-to-image", Some("flux-pro")), true),
        (seconds("text-to-video", Some("veo-3"), 1), true),
        (request("text-to-image", Some("flux-schnell")), false),
        (request("text-to-image", Some("sdxl")), false),
        (seconds("text-to-video", Some("wan-2"), 1), false),
        (request("upscale", None), false),
    ];
    for (request, pro) in cases {
        assert_eq!(priced(&request).pro, pro, "{request:?}");
    }
}

#[test]
fn a_priced_generation_describes_what_was_asked() {
    let request = GenerationRequest { count: 2, ..seconds("text-to-video", Some("veo-3"), 5) };
    let priced = priced(&request);
    let expected = PricedGeneration {
        studio: Video,
        tool: "text-to-video".into(),
        model_id: Some("veo-3".into()),
        pro: true,
        count: 2,
        units: Some(5),
        options: Vec::new(),
        credits_per_output: Credits::new(75),
        credits: Credits::new(150),
        unit_price_millicredits: 10_000,
        catalog_version: 1,
    };
    assert_eq!(priced, expected);
}
