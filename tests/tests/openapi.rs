//! `GET /v1/openapi.json`: the daemon documents every route it serves — methods, path
//! and query parameters, bodies, responses and which routes need the bearer token — and
//! the routes it documents are the ones it serves.

use linli_tests::{Daemon, duplicate_keys};
use serde_json::{Value, json};

/// Every route of the daemon's router: method, path, and whether it needs the token.
const ROUTES: &[(&str, &str, bool)] = &[
    ("post", "/v1/checkout/quote", false),
    ("get", "/v1/checkout/sales/{sale}", false),
    ("post", "/v1/checkout/commit", true),
    ("get", "/v1/inventory/skus", false),
    ("get", "/v1/inventory/skus/{sku}", false),
    ("get", "/v1/inventory/expiring", false),
    ("get", "/v1/inventory/slow-movers", false),
    ("post", "/v1/inventory/deliveries", true),
    ("post", "/v1/inventory/batches/{batch}/movements", true),
    ("get", "/v1/plugins", false),
    ("post", "/v1/plugins/{install}/enable", true),
    ("post", "/v1/plugins/{install}/disable", true),
    ("put", "/v1/plugins/{install}/config", true),
    ("put", "/v1/pipelines/{world}/order", true),
    ("post", "/v1/plugins/install", true),
    ("post", "/v1/plugins/install/bundle", true),
    ("post", "/v1/plugins/{install}/rollback", true),
    ("get", "/v1/plugins/{install}/versions", false),
    ("post", "/v1/plugins/{install}/shadow", true),
    ("post", "/v1/plugins/{install}/shadow/bundle", true),
    ("get", "/v1/plugins/{install}/shadow", false),
    ("delete", "/v1/plugins/{install}/shadow", true),
    ("post", "/v1/plugins/{install}/promote", true),
    ("get", "/v1/recycling/accounts/{pseudonym}", false),
    ("post", "/v1/recycling/returns", true),
    ("post", "/v1/recycling/redemptions", true),
    ("get", "/v1/presale/campaigns", false),
    ("get", "/v1/presale/campaigns/{campaign}", false),
    ("post", "/v1/presale/campaigns", true),
    ("post", "/v1/presale/campaigns/{campaign}/orders", true),
    ("post", "/v1/presale/campaigns/{campaign}/close", true),
    ("post", "/v1/presale/orders/{preorder}/cancel", true),
    ("get", "/v1/delivery/requests", false),
    ("post", "/v1/delivery/requests", true),
    ("post", "/v1/delivery/requests/{delivery}/delivered", true),
    ("get", "/v1/sensors/latest", false),
    ("get", "/v1/sensors/devices", false),
    ("get", "/v1/sensors/devices/{device}/readings", false),
    ("get", "/v1/sensors/alerts", false),
    ("post", "/v1/sensors/readings", true),
    ("post", "/v1/sensors/alerts/{alert}/ack", true),
    ("get", "/v1/sharing/reports", false),
    ("post", "/v1/sharing/reports", true),
    ("get", "/v1/pool/offers", false),
    ("post", "/v1/pool/offers", true),
    ("post", "/v1/pool/offers/{offer}/withdraw", true),
    ("get", "/v1/pool/search", false),
    ("get", "/v1/pool/transfers", false),
    ("post", "/v1/pool/transfers", true),
    ("post", "/v1/pool/transfers/{transfer}/accept", true),
    ("post", "/v1/pool/transfers/{transfer}/decline", true),
    ("get", "/v1/trace/batches/{batch}", false),
    ("get", "/v1/reports/today", false),
    ("get", "/v1/openapi.json", false),
    ("get", "/healthz", false),
    ("get", "/metrics", false),
];

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The schema a `$ref` points to, or the schema itself.
fn resolve<'a>(document: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("a reference outside the schemas: {reference}"));
            let found = &document["components"]["schemas"][name];
            assert!(found.is_object(), "{reference} is not in the document");
            resolve(document, found)
        }
        None => schema,
    }
}

/// `{name}` segments of a path template.
fn path_parameters(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .collect()
}

#[test]
fn the_document_covers_every_route_with_its_parameters_bodies_and_auth() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path());
    let (status, document) = daemon.get("/v1/openapi.json");
    assert_eq!(status, 200, "{document}");
    assert!(
        document["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        document["openapi"]
    );
    assert_eq!(document["info"]["title"], "linli store daemon API");
    assert_eq!(document["info"]["version"], env!("CARGO_PKG_VERSION"));

    // Exactly the router's routes.
    let mut documented = Vec::new();
    for (path, operations) in document["paths"].as_object().unwrap() {
        for method in METHODS {
            if operations.get(method).is_some() {
                documented.push((method.to_string(), path.clone()));
            }
        }
    }
    let mut expected: Vec<(String, String)> = ROUTES
        .iter()
        .map(|(method, path, _)| (method.to_string(), path.to_string()))
        .collect();
    documented.sort();
    expected.sort();
    assert_eq!(documented, expected);

    // The bearer scheme, and on exactly the mutating routes.
    let scheme = &document["components"]["securitySchemes"]["bearer"];
    assert_eq!(scheme["type"], "http", "{scheme}");
    assert_eq!(scheme["scheme"], "bearer", "{scheme}");
    assert!(
        document.get("security").is_none(),
        "no document-wide security"
    );
    for (method, path, mutating) in ROUTES {
        let operation = &document["paths"][path][method];
        let security = &operation["security"];
        if *mutating {
            assert_eq!(security, &json!([{"bearer": []}]), "{method} {path}");
            assert!(
                operation["responses"]["401"].is_object(),
                "{method} {path}: no 401"
            );
        } else {
            assert!(security.is_null(), "{method} {path}: {security}");
        }
    }
    assert_eq!(
        document["paths"]["/v1/checkout/commit"]["post"]["security"],
        json!([{"bearer": []}])
    );
    assert!(
        document["paths"]["/v1/inventory/skus"]["get"]
            .get("security")
            .is_none()
    );

    // Every operation: its path parameters, a success response, errors as ApiErrorBody.
    for (method, path, _) in ROUTES {
        let operation = &document["paths"][path][method];
        let parameters = operation["parameters"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for name in path_parameters(path) {
            assert!(
                parameters
                    .iter()
                    .any(|parameter| parameter["name"] == name && parameter["in"] == "path"),
                "{method} {path}: path parameter {name} undeclared"
            );
        }
        let responses = operation["responses"].as_object().unwrap();
        assert!(
            responses.keys().any(|code| code.starts_with('2')),
            "{method} {path}: no success response"
        );
        for (code, response) in responses {
            let Some(schema) = response.pointer("/content/application~1json/schema") else {
                continue;
            };
            if code.starts_with('4') || code.starts_with('5') {
                assert_eq!(
                    schema["$ref"], "#/components/schemas/ApiErrorBody",
                    "{method} {path} {code}"
                );
            } else if *path != "/v1/openapi.json" {
                let schema = resolve(&document, schema);
                assert!(
                    schema.get("type").is_some() || schema.get("allOf").is_some(),
                    "{method} {path} {code}: {schema}"
                );
            }
        }
    }
    let error = &document["components"]["schemas"]["ApiErrorBody"];
    assert_eq!(error["properties"]["error"]["type"], "string", "{error}");
    let code = resolve(&document, &error["properties"]["code"]);
    assert!(
        code["enum"]
            .as_array()
            .is_some_and(|codes| codes.contains(&json!("not_found"))),
        "{error}"
    );
    let mut required = error["required"].as_array().unwrap().clone();
    required.sort_by_key(|field| field.to_string());
    assert_eq!(required, [json!("code"), json!("error")]);

    // Request bodies: a sensor batch is an object with a `readings` array of readings.
    let body = &document["paths"]["/v1/sensors/readings"]["post"]["requestBody"];
    assert_eq!(body["required"], true, "{body}");
    let batch = resolve(&document, &body["content"]["application/json"]["schema"]);
    assert_eq!(batch["type"], "object", "{batch}");
    assert_eq!(batch["required"], json!(["readings"]), "{batch}");
    let readings = &batch["properties"]["readings"];
    assert_eq!(readings["type"], "array", "{readings}");
    let reading = resolve(&document, &readings["items"]);
    for field in ["device", "kind", "value", "at"] {
        assert!(
            reading["properties"][field].is_object(),
            "{field}: {reading}"
        );
    }
    for (method, path) in [
        ("post", "/v1/checkout/quote"),
        ("post", "/v1/checkout/commit"),
        ("post", "/v1/inventory/deliveries"),
        ("put", "/v1/plugins/{install}/config"),
        ("put", "/v1/pipelines/{world}/order"),
        ("post", "/v1/recycling/returns"),
        ("post", "/v1/recycling/redemptions"),
        ("post", "/v1/presale/campaigns"),
        ("post", "/v1/presale/campaigns/{campaign}/orders"),
        ("post", "/v1/delivery/requests"),
        ("post", "/v1/sensors/alerts/{alert}/ack"),
        ("post", "/v1/sharing/reports"),
    ] {
        let schema = &document["paths"][path][method]["requestBody"]["content"]["application/json"]
            ["schema"];
        assert!(
            resolve(&document, schema)["type"] == "object",
            "{method} {path}: {schema}"
        );
    }

    // Query parameters.
    let history = &document["paths"]["/v1/sensors/devices/{device}/readings"]["get"];
    let query: Vec<&str> = history["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|parameter| parameter["in"] == "query")
        .map(|parameter| parameter["name"].as_str().unwrap())
        .collect();
    assert_eq!(query, ["from", "to", "kind", "limit"]);

    // Schemas the plugins' WIT types give: a basket's customer.
    let basket = resolve(
        &document,
        &document["paths"]["/v1/checkout/quote"]["post"]["requestBody"]["content"]["application/json"]
            ["schema"],
    );
    let customer = &basket["properties"]["customer"];
    let customer = customer["oneOf"]
        .as_array()
        .and_then(|options| options.iter().find(|option| option.get("$ref").is_some()))
        .unwrap_or(customer);
    let customer = resolve(&document, customer);
    assert!(
        customer["properties"]["pseudonym"].is_object(),
        "{customer}"
    );
    assert!(customer["properties"]["tier"].is_object(), "{customer}");
}

#[test]
fn every_documented_route_is_served_and_guarded_as_documented() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path());
    let (status, document) = daemon.get("/v1/openapi.json");
    assert_eq!(status, 200, "{document}");
    for (method, path, mutating) in ROUTES {
        assert!(
            document["paths"][path][method].is_object(),
            "{method} {path}"
        );
        // Numbers fit every path parameter; nothing with these ids exists, and an empty
        // body is refused, so no probe changes the store.
        let concrete: String = path
            .split('/')
            .map(|segment| {
                if segment.starts_with('{') {
                    "1"
                } else {
                    segment
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        let (status, body) = match *method {
            "get" => daemon.get(&concrete),
            "post" => daemon.post(&concrete, &json!({})),
            "put" => daemon.put(&concrete, &json!({})),
            "delete" => daemon.delete(&concrete),
            other => panic!("{other}: no probe"),
        };
        let unrouted = status == 405
            || (status == 404
                && body["error"]
                    .as_str()
                    .is_some_and(|error| error.contains("no such route")));
        assert!(!unrouted, "{method} {path}: {status} {body}");
        assert!(
            !(200..300).contains(&status) || *method == "get",
            "{method} {path}: a probe changed something: {status} {body}"
        );
        if *method == "post" {
            let (status, body) = daemon.post_raw(&concrete, "{}", false);
            assert_eq!(
                status == 401,
                *mutating,
                "{method} {path} without a token: {status} {body}"
            );
        }
    }
}

/// Every schema a request body of `operation` reaches, by name (inline ones by where
/// they are).
fn request_schemas<'a>(document: &'a Value, operation: &'a Value) -> Vec<(String, &'a Value)> {
    fn reach<'a>(
        document: &'a Value,
        name: String,
        schema: &'a Value,
        found: &mut Vec<(String, &'a Value)>,
    ) {
        if let Some(reference) = schema["$ref"].as_str() {
            let name = reference.rsplit('/').next().unwrap().to_string();
            if found.iter().any(|(seen, _)| *seen == name) {
                return;
            }
            return reach(document, name, resolve(document, schema), found);
        }
        found.push((name.clone(), schema));
        if let Some(properties) = schema["properties"].as_object() {
            for (property, inner) in properties {
                reach(document, format!("{name}.{property}"), inner, found);
            }
        }
        for key in ["items", "additionalProperties"] {
            if schema[key].is_object() {
                reach(document, format!("{name}[]"), &schema[key], found);
            }
        }
        for key in ["oneOf", "anyOf", "allOf"] {
            for inner in schema[key].as_array().into_iter().flatten() {
                reach(document, name.clone(), inner, found);
            }
        }
    }
    let mut found = Vec::new();
    let content = operation["requestBody"]["content"].as_object();
    for (media, body) in content.into_iter().flatten() {
        reach(
            document,
            format!("body {media}"),
            &body["schema"],
            &mut found,
        );
    }
    found
}

fn is_type(schema: &Value, kind: &str) -> bool {
    schema["type"] == kind
        || schema["type"]
            .as_array()
            .is_some_and(|kinds| kinds.iter().any(|each| each == kind))
}

#[test]
fn the_document_declares_every_constraint_the_server_enforces() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path());
    let (status, document) = daemon.get("/v1/openapi.json");
    assert_eq!(status, 200, "{document}");
    let schemas = &document["components"]["schemas"];

    // Integers in formats a client knows; a u32 is 0 to 4294967295.
    fn integers<'a>(value: &'a Value, found: &mut Vec<&'a Value>) {
        match value {
            Value::Object(map) => {
                if is_type(value, "integer") {
                    found.push(value);
                }
                map.values().for_each(|inner| integers(inner, found));
            }
            Value::Array(items) => items.iter().for_each(|inner| integers(inner, found)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    integers(&document, &mut found);
    assert!(found.len() > 50, "{}", found.len());
    for integer in found {
        let format = integer["format"].as_str().unwrap_or_default();
        assert!(["int32", "int64"].contains(&format), "{integer}");
    }
    for (schema, field, minimum) in [
        ("BasketItem", "qty", 1),
        ("CampaignOpening", "min_qty", 1),
        ("CampaignOpening", "weekly_volume", 0),
        ("DeliveryRequested", "distance_m", 0),
        ("PointsRedemption", "requested", 0),
    ] {
        let property = &schemas[schema]["properties"][field];
        assert_eq!(property["format"], "int64", "{schema}.{field}: {property}");
        assert_eq!(property["minimum"], minimum, "{schema}.{field}: {property}");
        assert_eq!(
            property["maximum"],
            u32::MAX,
            "{schema}.{field}: {property}"
        );
    }

    // Every request body: no `allOf` no request can satisfy, every count at least 1,
    // every string bounded (a length, a pattern, a set of values or a format).
    // Looked up by what they name, not kept: these need no limit of their own.
    let lookups = ["PoolOfferRequest.batch", "PipelineOrder.installs[]"];
    for (method, path, _) in ROUTES {
        let operation = &document["paths"][path][method];
        for (name, schema) in request_schemas(&document, operation) {
            assert!(
                schema.get("allOf").is_none(),
                "{method} {path} {name}: {schema}"
            );
            let field = name.rsplit('.').next().unwrap();
            if ["qty", "count", "min_qty"].contains(&field) {
                assert_eq!(schema["minimum"], 1, "{method} {path} {name}: {schema}");
            }
            if is_type(schema, "string") && !lookups.contains(&name.as_str()) {
                let bounded = schema.get("maxLength").is_some()
                    || schema.get("enum").is_some()
                    || schema.get("format").is_some()
                    || schema["pattern"]
                        .as_str()
                        .is_some_and(|pattern| pattern.contains('{'));
                assert!(
                    bounded,
                    "{method} {path} {name}: an unbounded string: {schema}"
                );
            }
        }
    }
    let id = &schemas["StockDelivery"]["properties"]["batch"];
    assert_eq!(
        (id["minLength"].as_u64(), id["maxLength"].as_u64()),
        (Some(1), Some(64)),
        "{id}"
    );
    assert!(id["pattern"].is_string(), "{id}");
    assert_eq!(
        schemas["CustomerRef"]["properties"]["pseudonym"]["maxLength"],
        64
    );
    assert_eq!(
        schemas["Acknowledgement"]["properties"]["note"]["maxLength"],
        500
    );
    assert_eq!(
        schemas["ReportDays"]["properties"]["first_day"]["format"],
        "date"
    );
    let readings = &schemas["ReadingBatch"]["properties"]["readings"];
    assert_eq!(
        (readings["minItems"].as_u64(), readings["maxItems"].as_u64()),
        (Some(1), Some(10_000))
    );
    let kinds = schemas["IncomingReading"]["oneOf"].as_array().unwrap();
    assert_eq!(kinds.len(), 3, "a value range per kind");

    // Installing from a registry is one object, with the options as its own fields.
    let from_registry = &schemas["FromRegistry"];
    assert_eq!(from_registry["type"], "object", "{from_registry}");
    for field in [
        "plugin",
        "registry",
        "as",
        "allow_downgrade",
        "allow_yanked",
    ] {
        assert!(
            from_registry["properties"][field].is_object(),
            "{field}: {from_registry}"
        );
    }
    assert_eq!(from_registry["required"], json!(["plugin"]));

    // Bundle bodies are bytes, as the file is.
    for path in [
        "/v1/plugins/install/bundle",
        "/v1/plugins/{install}/shadow/bundle",
    ] {
        let content = &document["paths"][path]["post"]["requestBody"]["content"];
        for media in ["application/octet-stream", "application/gzip"] {
            let schema = &content[media]["schema"];
            assert_eq!(
                (&schema["type"], &schema["format"]),
                (&json!("string"), &json!("binary")),
                "{path} {media}: {content}"
            );
        }
        assert!(
            document["paths"][path]["post"]["responses"]["413"].is_object(),
            "{path}"
        );
    }

    // Query parameters: their ranges as the routes check them (out of range is 400).
    let parameter = |path: &str, name: &str| -> Value {
        document["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|parameter| parameter["name"] == name)
            .unwrap_or_else(|| panic!("{path} {name}"))["schema"]
            .clone()
    };
    for (path, name, minimum, maximum) in [
        ("/v1/sensors/alerts", "limit", 1, 1000),
        ("/v1/sensors/devices/{device}/readings", "limit", 1, 10_000),
        ("/v1/inventory/expiring", "within_hours", 1, 720),
        ("/v1/inventory/slow-movers", "days", 1, 90),
    ] {
        let schema = parameter(path, name);
        assert_eq!(
            (schema["minimum"].as_i64(), schema["maximum"].as_i64()),
            (Some(minimum), Some(maximum)),
            "{path} {name}: {schema}"
        );
        for (value, status) in [(minimum - 1, 400), (maximum + 1, 400), (maximum, 200)] {
            let concrete = path.replace("{device}", "sim-fridge-1");
            let (answer, body) = daemon.get(&format!("{concrete}?{name}={value}"));
            // A device with no readings yet is 404, whatever the limit: in range.
            let answer = if answer == 404 && status == 200 {
                200
            } else {
                answer
            };
            assert_eq!(answer, status, "{path}?{name}={value}: {body}");
        }
    }
    let radius = parameter("/v1/pool/search", "radius_km");
    assert_eq!(
        (
            radius["exclusiveMinimum"].as_f64(),
            radius["maximum"].as_f64()
        ),
        (Some(0.0), Some(100.0)),
        "{radius}"
    );

    // A setting's body says how many, how long, and that each is the plugin's own.
    let settings = &document["paths"]["/v1/plugins/{install}/config"]["put"]["requestBody"]["content"]
        ["application/json"]["schema"];
    assert_eq!(settings["maxProperties"], 64, "{settings}");
    assert_eq!(settings["propertyNames"]["maxLength"], 1024, "{settings}");
}

/// The properties an object schema has, through `$ref`s and `allOf` (how a
/// `#[serde(flatten)]` field is documented), in order, repeats kept.
fn properties(document: &Value, schema: &Value) -> Vec<String> {
    let schema = resolve(document, schema);
    let mut names: Vec<String> = schema["properties"]
        .as_object()
        .map(|properties| properties.keys().cloned().collect())
        .unwrap_or_default();
    for part in schema["allOf"].as_array().into_iter().flatten() {
        names.extend(properties(document, part));
    }
    names
}

/// Every object schema anywhere in `node`, checked for a property that two of its
/// parts declare (a flattened struct and the struct around it naming one key): the
/// `path` of each, with the key.
fn declared_twice(document: &Value, node: &Value, path: &str, found: &mut Vec<String>) {
    match node {
        Value::Object(object) => {
            if object.contains_key("allOf") {
                let mut seen = std::collections::BTreeSet::new();
                for name in properties(document, node) {
                    if !seen.insert(name.clone()) {
                        found.push(format!("{path}: {name}"));
                    }
                }
            }
            for (key, value) in object {
                declared_twice(document, value, &format!("{path}/{key}"), found);
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                declared_twice(document, item, &format!("{path}/{index}"), found);
            }
        }
        _ => {}
    }
}

#[test]
fn no_object_the_daemon_documents_or_answers_carries_a_key_twice() {
    assert_eq!(
        duplicate_keys(r#"{"a": 1, "b": [{"c": 1, "c": 2}], "c": 3}"#),
        [".b[0].c"],
        "the check finds what it looks for"
    );
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path());

    // `GET /v1/plugins` as sent: each install names its plugin once.
    let (status, text) = daemon.get_text("/v1/plugins");
    assert_eq!(status, 200, "{text}");
    assert_eq!(duplicate_keys(&text), Vec::<String>::new(), "{text}");
    let installs: Value = serde_json::from_str(&text).unwrap();
    let markdown = installs
        .as_array()
        .unwrap()
        .iter()
        .find(|install| install["id"] == "markdown-pricing")
        .unwrap_or_else(|| panic!("{installs}"));
    assert_eq!(markdown["plugin"], "linli/markdown-pricing", "{markdown}");

    // Every schema the document declares.
    let (status, document) = daemon.get("/v1/openapi.json");
    assert_eq!(status, 200, "{document}");
    let mut found = Vec::new();
    declared_twice(&document, &document, "", &mut found);
    assert_eq!(found, Vec::<String>::new(), "schemas declaring a key twice");

    // Every reading route's answer as sent (path parameters filled with 1).
    for (method, path, _) in ROUTES {
        if *method != "get" || *path == "/metrics" {
            continue;
        }
        let concrete = path
            .split('/')
            .map(|segment| {
                if segment.starts_with('{') {
                    "1"
                } else {
                    segment
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        let (_, text) = daemon.get_text(&concrete);
        assert_eq!(
            duplicate_keys(&text),
            Vec::<String>::new(),
            "GET {concrete}: {text}"
        );
    }
}
