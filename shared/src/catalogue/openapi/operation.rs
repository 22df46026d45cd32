//! What one HTTP entry reads and answers, told with the Rust types its
//! handler uses: the schemas come from their `JsonSchema` derive, so a field
//! added to a request or response type is in the document without anyone
//! editing it. Path parameters come from the entry's path; the answers every
//! route of a kind shares (sign-in, CSRF, rate limits, JSON bodies) are added
//! by [`super::shared_answers`].

use std::collections::{BTreeMap, BTreeSet};

use schemars::generate::{Contract, SchemaSettings};
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{Map, Value, json};

/// Where the schemas of named types go, and what a `$ref` to one starts with.
pub(super) const SCHEMAS_PATH: &str = "/components/schemas";

/// The schemas of the types operations name, gathered into
/// `components/schemas`. A type read from a request is described as serde
/// reads it (defaults make fields optional) and one written in a response as
/// serde writes it, so the two sides have their own generators.
pub struct Schemas {
    requests: SchemaGenerator,
    responses: SchemaGenerator,
}

impl Default for Schemas {
    fn default() -> Self {
        Self::new()
    }
}

impl Schemas {
    pub fn new() -> Self {
        Self {
            requests: generator(Contract::Deserialize),
            responses: generator(Contract::Serialize),
        }
    }

    /// The schema (usually a `$ref`) of `T` as a request carries it.
    pub fn input<T: JsonSchema>(&mut self) -> Value {
        self.requests.subschema_for::<T>().to_value()
    }

    /// The schema (usually a `$ref`) of `T` as a response carries it.
    pub fn output<T: JsonSchema>(&mut self) -> Value {
        self.responses.subschema_for::<T>().to_value()
    }

    /// The properties of `T` as a request reads them, and which are required:
    /// what a query string or a form maps onto.
    fn input_fields<T: JsonSchema>(&mut self) -> (Map<String, Value>, BTreeSet<String>) {
        let schema = self.requests.subschema_for::<T>().to_value();
        let resolved = match schema.get("$ref").and_then(Value::as_str) {
            Some(reference) => {
                let name = reference.rsplit('/').next().unwrap_or_default();
                self.requests.definitions().get(name).cloned().unwrap_or(Value::Null)
            }
            None => schema,
        };
        let properties = resolved
            .get("properties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let required = resolved
            .get("required")
            .and_then(Value::as_array)
            .map(|names| names.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default();
        (properties, required)
    }

    /// The named schemas, request and response side in one map. A type whose
    /// request shape differs from its response shape keeps its name for the
    /// response and gets `<Name>Input` for the request; the returned map tells
    /// which request-side names moved, for [`rename_refs`].
    pub(super) fn finish(self) -> (Map<String, Value>, BTreeMap<String, String>) {
        let mut responses = self.responses;
        let mut requests = self.requests;
        let mut all = responses.take_definitions(true);
        let inputs = requests.take_definitions(true);
        let renames: BTreeMap<String, String> = inputs
            .iter()
            .filter(|(name, schema)| all.get(*name).is_some_and(|output| output != *schema))
            .map(|(name, _)| (name.clone(), format!("{name}Input")))
            .collect();
        for (name, mut schema) in inputs {
            rename_refs(&mut schema, &renames);
            let name = renames.get(&name).cloned().unwrap_or(name);
            all.entry(name).or_insert(schema);
        }
        (all, renames)
    }
}

fn generator(contract: Contract) -> SchemaGenerator {
    SchemaSettings::draft2020_12()
        .with(|settings| {
            settings.definitions_path = SCHEMAS_PATH.into();
            settings.meta_schema = None;
            settings.contract = contract;
        })
        .into_generator()
}

/// Points every `$ref` to a renamed request-side schema at its new name.
pub(super) fn rename_refs(value: &mut Value, renames: &BTreeMap<String, String>) {
    if renames.is_empty() {
        return;
    }
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get_mut("$ref")
                && let Some(name) = reference.strip_prefix(&format!("#{SCHEMAS_PATH}/"))
                && let Some(renamed) = renames.get(name)
            {
                *reference = format!("#{SCHEMAS_PATH}/{renamed}");
            }
            for child in map.values_mut() {
                rename_refs(child, renames);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| rename_refs(item, renames)),
        _ => {}
    }
}

/// What a header value may hold: visible characters, spaces, tabs and
/// obs-text (RFC 9110 §5.5). Other control bytes are not HTTP: the server
/// refuses them before any route (see the document's description).
const HEADER_VALUE: &str = "^[\\t\\x20-\\x7e\\x80-\\xff]*$";

/// One operation: built by the area files in `contracts/`, one per entry.
#[derive(Debug, Default, Clone)]
pub struct Operation {
    pub(super) parameters: Vec<Value>,
    pub(super) request_body: Option<Value>,
    /// Successful and redirecting answers by status.
    pub(super) responses: BTreeMap<u16, Value>,
    /// Problem answers by status, with the stable codes each can carry.
    pub(super) problems: BTreeMap<u16, BTreeSet<&'static str>>,
    /// Path parameters described more precisely than "an id", with an example.
    pub(super) path_descriptions: BTreeMap<&'static str, (&'static str, &'static str)>,
    /// The handler reads the body as the bytes sent, not through the JSON
    /// reader (see [`Operation::raw_body`]).
    pub(super) raw_body: bool,
}

impl Operation {
    pub fn new() -> Self {
        Self::default()
    }

    /// A query string read into `T` (`Query<T>`): one parameter per field.
    pub fn query<T: JsonSchema>(mut self, schemas: &mut Schemas) -> Self {
        let (properties, required) = schemas.input_fields::<T>();
        for (name, schema) in properties {
            let mut parameter = json!({
                "name": name,
                "in": "query",
                "required": required.contains(&name),
                "schema": schema,
            });
            if let Some(description) = parameter["schema"].get("description").cloned() {
                parameter["description"] = description;
            }
            self.parameters.push(parameter);
        }
        self
    }

    /// A request header the handler reads.
    pub fn header(mut self, name: &str, required: bool, description: &str) -> Self {
        self.parameters.push(json!({
            "name": name,
            "in": "header",
            "required": required,
            "description": description,
            "schema": {"type": "string", "pattern": HEADER_VALUE},
        }));
        self
    }

    /// Says what a path parameter holds, with an example value.
    pub fn path(mut self, name: &'static str, description: &'static str, example: &'static str) -> Self {
        self.path_descriptions.insert(name, (description, example));
        self
    }

    /// A JSON body read into `T` (`ApiJson<T>`), with an example of it.
    pub fn json_body<T: JsonSchema>(self, schemas: &mut Schemas, example: Value) -> Self {
        let schema = schemas.input::<T>();
        self.body("application/json", schema, example)
    }

    /// An HTML form post (`application/x-www-form-urlencoded`) read into `T`.
    pub fn form_body<T: JsonSchema>(self, schemas: &mut Schemas, example: Value) -> Self {
        let schema = schemas.input::<T>();
        self.body("application/x-www-form-urlencoded", schema, example)
    }

    /// A body the handler takes as the bytes sent (a provider's webhook,
    /// whose signature covers them exactly): the JSON reader's refusals
    /// (malformed JSON, media type, validation) never come, only the body
    /// limit's and the handler's own.
    pub fn raw_body(mut self, media_type: &str, schema: Value, example: Value) -> Self {
        self.raw_body = true;
        self.body(media_type, schema, example)
    }

    /// A body of any media type, described by `schema`.
    pub fn body(mut self, media_type: &str, schema: Value, example: Value) -> Self {
        self.request_body = Some(json!({
            "required": true,
            "content": {media_type: {"schema": schema, "example": example}},
        }));
        self
    }

    /// A JSON answer `T` with `status`, and an example of it.
    pub fn json<T: JsonSchema>(self, schemas: &mut Schemas, status: u16, description: &str, example: Value) -> Self {
        let schema = schemas.output::<T>();
        self.answer(status, description, "application/json", schema, Some(example))
    }

    /// An answer of any media type.
    pub fn answer(
        mut self,
        status: u16,
        description: &str,
        media_type: &str,
        schema: Value,
        example: Option<Value>,
    ) -> Self {
        let mut media = json!({"schema": schema});
        if let Some(example) = example {
            media["example"] = example;
        }
        self.responses.insert(
            status,
            json!({"description": description, "content": {media_type: media}}),
        );
        self
    }

    /// An HTML page; `example` is a fragment of what it shows.
    pub fn html(self, status: u16, description: &str, example: &str) -> Self {
        self.answer(
            status,
            description,
            "text/html",
            json!({"type": "string"}),
            Some(json!(example)),
        )
    }

    /// A redirect (`Location` says where).
    pub fn redirect(mut self, status: u16, description: &str) -> Self {
        self.responses.insert(
            status,
            json!({
                "description": description,
                "headers": {"Location": {"required": true, "schema": {"type": "string"}}},
            }),
        );
        self
    }

    /// A redirect whose `Location` is shown by an example: for an operation
    /// that answers nothing but redirects, so it still shows one.
    pub fn redirect_to(mut self, status: u16, description: &str, location: &str) -> Self {
        self.responses.insert(
            status,
            json!({
                "description": description,
                "headers": {"Location": {"required": true, "schema": {"type": "string"}, "example": location}},
            }),
        );
        self
    }

    /// A header the answer with `status` carries, with an example: what an
    /// answer without a body shows.
    pub fn answer_header(mut self, status: u16, name: &str, description: &str, example: &str) -> Self {
        let response = self
            .responses
            .entry(status)
            .or_insert_with(|| json!({"description": description}));
        response["headers"][name] =
            json!({"description": description, "schema": {"type": "string"}, "example": example});
        self
    }

    /// An answer with no body (e.g. `204`).
    pub fn empty(mut self, status: u16, description: &str) -> Self {
        self.responses.insert(status, json!({"description": description}));
        self
    }

    /// A problem answer with `status` and the stable codes it can carry.
    pub fn problem(mut self, status: u16, codes: &[&'static str]) -> Self {
        self.problems.entry(status).or_default().extend(codes.iter().copied());
        self
    }

    /// Whether the operation shows an example anywhere (body, answer or
    /// path parameter): every operation must.
    pub(super) fn has_example(&self) -> bool {
        if !self.path_descriptions.is_empty() {
            return true;
        }
        let in_body = self
            .request_body
            .as_ref()
            .and_then(|body| {
                body.get("content")?
                    .as_object()?
                    .values()
                    .next()?
                    .get("example")
                    .cloned()
            })
            .is_some();
        let in_answer = self.responses.values().any(|response| {
            response
                .get("content")
                .and_then(Value::as_object)
                .is_some_and(|content| content.values().any(|media| media.get("example").is_some()))
        });
        let in_redirect = self.responses.values().any(|response| {
            response
                .get("headers")
                .and_then(Value::as_object)
                .is_some_and(|headers| headers.values().any(|header| header.get("example").is_some()))
        });
        in_body || in_answer || in_redirect
    }
}
