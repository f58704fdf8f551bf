//! The default catalog as the tests read it from `migration/seed/catalog.toml`
//! (the file the server seeds from), and the cost of a generation computed
//! here from the rule of DESIGN.md (rule 4), not by the server's code: the
//! price per unit times the units of one output times every option's
//! multiplier, rounded up to a whole credit, times the number of outputs.
use std::collections::BTreeMap;
use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::sample::Index;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Debug, Deserialize)]
pub struct Catalog {
    pub plans: Vec<Plan>,
    pub token_packs: Vec<Pack>,
    studios: Vec<Studio>,
}

#[derive(Debug, Deserialize)]
pub struct Plan {
    pub code: String,
    pub monthly_credits: i64,
    pub pro_access: bool,
    pub can_buy_tokens: bool,
    #[serde(default)]
    pub rollover_percent: i64,
    pub rollover_cap: Option<i64>,
}

#[derive(Debug, Deserialize)]
pub struct Pack {
    pub id: String,
    pub tokens: i64,
}

#[derive(Debug, Deserialize)]
struct Studio {
    kind: String,
    models: Vec<ModelEntry>,
    #[serde(default)]
    options: Vec<OptionEntry>,
    tools: Vec<Tool>,
}

#[derive(Debug, Deserialize)]
struct ModelEntry {
    id: String,
    #[serde(default)]
    pro: bool,
}

#[derive(Debug, Deserialize)]
struct OptionEntry {
    name: String,
    default: Option<String>,
    values: BTreeMap<String, f64>,
}

#[derive(Debug, Deserialize)]
struct Tool {
    code: String,
    unit: String,
    /// Credits per unit of a tool that runs without a model.
    credits_per_unit: Option<f64>,
    /// Credits per unit for each model the tool runs with.
    #[serde(default)]
    models: BTreeMap<String, f64>,
}

/// Every price and multiplier in the file has at most three decimals.
fn thousandths(value: f64) -> i128 {
    (value * 1_000.0).round() as i128
}

pub fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/migration/seed/catalog.toml");
        let text = std::fs::read_to_string(path).expect("the seed catalog");
        toml::from_str(&text).expect("the seed catalog parses")
    })
}

impl Catalog {
    pub fn plan(&self, code: &str) -> &Plan {
        self.plans.iter().find(|plan| plan.code == code).expect("a plan of the catalog")
    }

    pub fn pack(&self, id: &str) -> &Pack {
        self.token_packs.iter().find(|pack| pack.id == id).expect("a pack of the catalog")
    }

    fn tools(&self) -> impl Iterator<Item = (&Studio, &Tool)> {
        self.studios.iter().flat_map(|studio| studio.tools.iter().map(move |tool| (studio, tool)))
    }

    fn tool(&self, code: &str) -> (&Studio, &Tool) {
        self.tools().find(|(_, tool)| tool.code == code).expect("a tool of the catalog")
    }
}

/// A valid generation: a tool of the catalog, one of its models if it is
/// priced per model, the measure its unit needs, and options of its studio.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Generation {
    pub tool: &'static str,
    pub model: Option<&'static str>,
    /// None: left out (one output).
    pub count: Option<i64>,
    pub duration_seconds: Option<i64>,
    pub characters: Option<i64>,
    /// As sent, in this order; an option left out takes its default.
    pub options: Vec<(&'static str, &'static str)>,
}

impl Generation {
    pub fn input(&self) -> Value {
        let mut input = json!({ "tool": self.tool });
        let fields = [("modelId", self.model.map(|m| json!(m))), ("count", self.count.map(|n| json!(n)))];
        let measures = [
            ("durationSeconds", self.duration_seconds.map(|n| json!(n))),
            ("characters", self.characters.map(|n| json!(n))),
        ];
        for (field, value) in fields.into_iter().chain(measures).filter_map(|(f, v)| Some((f, v?))) {
            input[field] = value;
        }
        if !self.options.is_empty() {
            let options: Vec<Value> =
                self.options.iter().map(|(name, value)| json!({ "name": name, "value": value })).collect();
            input["options"] = json!(options);
        }
        input
    }

    pub fn outputs(&self) -> i64 {
        self.count.unwrap_or(1)
    }

    /// The same generation with one output more: another request under the same key.
    pub fn other(&self) -> Generation {
        Generation { count: Some(self.outputs() + 1), ..self.clone() }
    }

    /// Whether the server sees the same request (a left-out count is one).
    pub fn same_request(&self, other: &Generation) -> bool {
        Generation { count: Some(self.outputs()), ..self.clone() }
            == Generation { count: Some(other.outputs()), ..other.clone() }
    }

    pub fn studio(&self) -> &'static str {
        &catalog().tool(self.tool).0.kind
    }

    pub fn pro(&self) -> bool {
        let (studio, _) = catalog().tool(self.tool);
        self.model.is_some_and(|id| studio.models.iter().any(|model| model.id == id && model.pro))
    }

    pub fn cost(&self) -> i64 {
        let (studio, tool) = catalog().tool(self.tool);
        let price = match self.model {
            Some(model) => tool.models[model],
            None => tool.credits_per_unit.expect("a tool without models has a price"),
        };
        // Exact in thousandths: units of one output times the price, times
        // each multiplier, over 1000 for every factor.
        let units_thousandths = match tool.unit.as_str() {
            "OUTPUT" => 1_000,
            "SECOND" => i128::from(self.duration_seconds.expect("seconds")) * 1_000,
            "THOUSAND_CHARACTERS" => i128::from(self.characters.expect("characters")),
            unit => panic!("unknown unit {unit}"),
        };
        let (mut numerator, mut denominator) = (units_thousandths * thousandths(price), 1_000_000i128);
        for option in &studio.options {
            let chosen = self.options.iter().find(|(name, _)| *name == option.name).map(|(_, value)| *value);
            let Some(value) = chosen.or(option.default.as_deref()) else { continue };
            numerator *= thousandths(option.values[value]);
            denominator *= 1_000;
        }
        let per_output = (numerator + denominator - 1) / denominator;
        i64::try_from(per_output).expect("a price in range") * self.outputs()
    }

    /// The usage event a charge of this generation records, as compared.
    pub fn usage_event(&self, credits: i64, refunded: i64) -> Value {
        let status = match refunded {
            0 => "CHARGED",
            _ if refunded < credits => "PARTIALLY_REFUNDED",
            _ => "REFUNDED",
        };
        json!({
            "credits": credits,
            "refundedCredits": refunded,
            "count": self.outputs(),
            "status": status,
            "tool": self.tool,
            "studio": self.studio(),
            "model": self.model.map(|id| json!({ "id": id, "pro": self.pro() })),
        })
    }
}

/// Any generation of the catalog, sized so that balances of tens to
/// thousands of credits pay for some and refuse others.
pub fn generation() -> impl Strategy<Value = Generation> {
    let count = prop_oneof![1 => Just(None), 4 => (1..=4i64).prop_map(Some)];
    let options = prop::collection::vec(prop::option::weighted(0.6, any::<Index>()), 2);
    (any::<Index>(), any::<Index>(), count, 1..=30i64, 1..=4_000i64, options).prop_map(
        |(tool, model, count, seconds, characters, options)| {
            let tools: Vec<(&Studio, &Tool)> = catalog().tools().collect();
            let (studio, tool) = tools[tool.index(tools.len())];
            let models: Vec<&String> = tool.models.keys().collect();
            let model = (!models.is_empty()).then(|| models[model.index(models.len())].as_str());
            let options = studio
                .options
                .iter()
                .zip(options)
                .filter_map(|(option, pick)| {
                    let values: Vec<&String> = option.values.keys().collect();
                    Some((option.name.as_str(), values[pick?.index(values.len())].as_str()))
                })
                .collect();
            Generation {
                tool: &tool.code,
                model,
                count,
                duration_seconds: (tool.unit == "SECOND").then_some(seconds),
                characters: (tool.unit == "THOUSAND_CHARACTERS").then_some(characters),
                options,
            }
        },
    )
}

#[test]
fn costs_follow_the_catalog_by_hand() {
    let generation = |tool, model, count, seconds, characters, options: &[(&'static str, &'static str)]| Generation {
        tool,
        model,
        count,
        duration_seconds: seconds,
        characters,
        options: options.to_vec(),
    };
    // sdxl, 3 a picture; 2048 doubles, high quality is half again: 9 each.
    assert_eq!(generation("text-to-image", Some("sdxl"), Some(2), None, None, &[]).cost(), 6);
    let large = [("resolution", "2048"), ("quality", "high")];
    assert_eq!(generation("text-to-image", Some("sdxl"), Some(2), None, None, &large).cost(), 18);
    // Half a credit a second for 7 s is 3.5: a whole 4.
    assert_eq!(generation("video-upscale", None, None, Some(7), None, &[]).cost(), 4);
    // 0.2 a second of stem separation: 11 s are 2.2, so 3.
    assert_eq!(generation("stem-separation", None, None, Some(11), None, &[]).cost(), 3);
    // 10 per thousand characters, HD: 1,234 characters are 18.51, so 19, twice.
    let hd = [("quality", "hd")];
    assert_eq!(generation("text-to-speech", Some("eleven-multilingual"), Some(2), None, Some(1_234), &hd).cost(), 38);
    assert!(generation("text-to-speech", Some("eleven-multilingual"), None, None, Some(1), &[]).pro());
}
