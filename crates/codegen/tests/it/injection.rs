//! Injection-proofing: arbitrary Unicode in every user field becomes an inert string literal or
//! comment of the generated TypeScript, as a real parser (oxc) reads it.
//!
//! Each property case builds a customer whose free text (destination and customer names, URL
//! settings, trusted origins, the database URL) is hostile, and a *benign twin* of the same shape
//! (same ids, kinds, environments, flags, numbers and secret references) whose free text is
//! replaced by unique harmless placeholders. Both are generated and parsed; then
//!
//! - the hostile output parses without any diagnostic, and its structure (every node kind,
//!   operator and identifier, with string literals abstracted) equals the twin's, so no user text
//!   added, removed or changed a statement, an import or an identifier;
//! - the string literals, in order, are the twin's with each placeholder replaced by the exact
//!   user string it stands for (the parser's decoded value, so escaping round-trips);
//! - the comments are the twin's, and each destination's comment decodes (undoing
//!   [`comment_text`]'s escapes) to the destination's name without trailing whitespace.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use c15t_codegen::literal::{comment_text, string_literal};
use c15t_codegen::{Input, TargetProfile, generate, generate_worker_source};
use c15t_model::{
    Catalogue, ConsentCategory, CustomerConfig, CustomerSpec, DatabaseSpec, DestinationSpec,
    Environment, FieldSpec, FieldType, KindSpec, LogLevel, RawValue, SecretRef, SettingValue,
    TrustedOrigin, is_invisible, worker_name,
};
use oxc_allocator::Allocator;
use oxc_ast::CommentKind;
use oxc_ast::ast::{
    ArrowFunctionBody, BindingPattern, Expression, FormalParameters, Function, FunctionBody,
    ImportDeclarationSpecifier, ModuleExportName, ObjectProperty, ObjectPropertyKind, Program,
    PropertyKey, SimpleAssignmentTarget, Statement, StringLiteral, TSLiteral, TSSignature, TSType,
    TSTypeAnnotation, TSTypeName, TSTypeParameterInstantiation,
};
use oxc_parser::Parser;
use oxc_span::SourceType;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::RngAlgorithm;

/// Longest display name validation accepts (`c15t_model`'s `NAME_MAX`, not exported).
const NAME_MAX: usize = 200;
/// Longest string setting validation accepts (`c15t_model`'s `SETTING_MAX`, not exported).
const SETTING_MAX: usize = 2048;

// ---------------------------------------------------------------------------------------------
// Parsing and walking the generated TypeScript
// ---------------------------------------------------------------------------------------------

/// What a walk over a program records.
#[derive(Debug, Default)]
struct Walk {
    /// Node kinds, operators, flags and identifier names in source order; each string literal is
    /// `$` (its value is in `strings`).
    skeleton: String,
    /// Decoded values of every string literal, in source order.
    strings: Vec<String>,
    /// Every identifier name (references, bindings, property names, type names).
    idents: Vec<String>,
    /// Constructs the walker does not know; the generator's own output must have none.
    unsupported: Vec<String>,
}

impl Walk {
    fn tag(&mut self, tag: impl std::fmt::Display) {
        let _ = writeln!(self.skeleton, "{tag}");
    }

    fn ident(&mut self, name: &str) {
        self.idents.push(name.to_owned());
        self.tag(format_args!("#{name}"));
    }

    fn string(&mut self, lit: &StringLiteral<'_>) {
        assert!(
            !lit.lone_surrogates,
            "a literal decodes to a lone surrogate"
        );
        self.strings.push(lit.value.as_str().to_owned());
        self.tag("$");
    }

    fn unsupported(&mut self, what: &str) {
        self.unsupported.push(what.to_owned());
        self.tag(format_args!("UNSUPPORTED {what}"));
    }

    fn program(&mut self, program: &Program<'_>) {
        if program.hashbang.is_some() {
            self.unsupported("hashbang");
        }
        for directive in &program.directives {
            self.unsupported("directive");
            self.string(&directive.expression);
        }
        for statement in &program.body {
            self.statement(statement);
        }
    }

    fn statements(&mut self, statements: &[Statement<'_>]) {
        self.tag("{");
        for s in statements {
            self.statement(s);
        }
        self.tag("}");
    }

    fn statement(&mut self, statement: &Statement<'_>) {
        match statement {
            Statement::BlockStatement(b) => self.statements(&b.body),
            Statement::ExpressionStatement(e) => {
                self.tag("expr;");
                self.expression(&e.expression);
            }
            Statement::IfStatement(i) => {
                self.tag("if");
                self.expression(&i.test);
                self.statement(&i.consequent);
                if let Some(alternate) = &i.alternate {
                    self.tag("else");
                    self.statement(alternate);
                }
            }
            Statement::ReturnStatement(r) => {
                self.tag("return");
                if let Some(argument) = &r.argument {
                    self.expression(argument);
                }
            }
            Statement::TryStatement(t) => {
                self.tag("try");
                self.statements(&t.block.body);
                if let Some(handler) = &t.handler {
                    self.tag("catch");
                    if let Some(param) = &handler.param {
                        self.binding_pattern(&param.pattern);
                        self.type_annotation(param.type_annotation.as_deref());
                    }
                    self.statements(&handler.body.body);
                }
                if let Some(finalizer) = &t.finalizer {
                    self.tag("finally");
                    self.statements(&finalizer.body);
                }
            }
            Statement::VariableDeclaration(v) => {
                self.tag(format_args!("{:?} declare={}", v.kind, v.declare));
                for d in &v.declarations {
                    self.tag(format_args!("declarator definite={}", d.definite));
                    self.binding_pattern(&d.id);
                    self.type_annotation(d.type_annotation.as_deref());
                    if let Some(init) = &d.init {
                        self.tag("=");
                        self.expression(init);
                    }
                }
            }
            Statement::TSInterfaceDeclaration(i) => {
                self.tag(format_args!("interface declare={}", i.declare));
                self.ident(&i.id.name);
                if i.type_parameters.is_some() || !i.extends.is_empty() {
                    self.unsupported("interface type parameters or heritage");
                }
                self.signatures(&i.body.body);
            }
            Statement::ImportDeclaration(i) => {
                self.tag(format_args!("import {:?}", i.import_kind));
                if i.phase.is_some() || i.with_clause.is_some() {
                    self.unsupported("import phase or attributes");
                }
                for specifier in i.specifiers.iter().flatten() {
                    match specifier {
                        ImportDeclarationSpecifier::ImportSpecifier(s) => {
                            self.tag(format_args!("specifier {:?}", s.import_kind));
                            self.module_export_name(&s.imported);
                            self.ident(&s.local.name);
                        }
                        ImportDeclarationSpecifier::ImportDefaultSpecifier(s) => {
                            self.tag("default specifier");
                            self.ident(&s.local.name);
                        }
                        ImportDeclarationSpecifier::ImportNamespaceSpecifier(s) => {
                            self.tag("namespace specifier");
                            self.ident(&s.local.name);
                        }
                    }
                }
                self.tag("from");
                self.string(&i.source);
            }
            Statement::ExportDefaultDeclaration(e) => {
                self.tag("export default");
                match e.declaration.as_expression() {
                    Some(expression) => self.expression(expression),
                    None => self.unsupported("export default declaration"),
                }
            }
            _ => self.unsupported("statement"),
        }
    }

    fn module_export_name(&mut self, name: &ModuleExportName<'_>) {
        match name {
            ModuleExportName::IdentifierName(i) => self.ident(&i.name),
            ModuleExportName::IdentifierReference(i) => self.ident(&i.name),
            ModuleExportName::StringLiteral(s) => self.string(s),
        }
    }

    fn expression(&mut self, expression: &Expression<'_>) {
        match expression {
            Expression::BooleanLiteral(b) => self.tag(b.value.to_string()),
            Expression::NullLiteral(_) => self.tag("null"),
            Expression::NumericLiteral(n) => self.tag(format_args!("number {}", n.value)),
            Expression::StringLiteral(s) => self.string(s),
            Expression::Identifier(i) => self.ident(&i.name),
            Expression::ArrayExpression(a) => {
                self.tag("[");
                for element in &a.elements {
                    match element.as_expression() {
                        Some(e) => self.expression(e),
                        None => self.unsupported("spread or hole in an array"),
                    }
                }
                self.tag("]");
            }
            Expression::ObjectExpression(o) => {
                self.tag("object{");
                for property in &o.properties {
                    match property {
                        ObjectPropertyKind::ObjectProperty(p) => self.property(p),
                        ObjectPropertyKind::SpreadProperty(spread) => {
                            self.tag("...");
                            self.expression(&spread.argument);
                        }
                    }
                }
                self.tag("}");
            }
            Expression::ArrowFunctionExpression(f) => {
                self.tag(format_args!("arrow async={}", f.r#async));
                if f.type_parameters.is_some() {
                    self.unsupported("arrow type parameters");
                }
                self.params(&f.params);
                self.type_annotation(f.return_type.as_deref());
                match &f.body {
                    ArrowFunctionBody::FunctionBody(body) => self.function_body(body),
                    other => match other.as_expression() {
                        Some(e) => self.expression(e),
                        None => self.unsupported("arrow body"),
                    },
                }
            }
            Expression::FunctionExpression(f) => self.function(f),
            Expression::AssignmentExpression(a) => {
                self.tag(format_args!("assign {:?}", a.operator));
                match a.left.as_simple_assignment_target() {
                    Some(SimpleAssignmentTarget::AssignmentTargetIdentifier(i)) => {
                        self.ident(&i.name)
                    }
                    Some(SimpleAssignmentTarget::StaticMemberExpression(m)) => {
                        self.tag(".");
                        self.expression(&m.object);
                        self.ident(&m.property.name);
                    }
                    _ => self.unsupported("assignment target"),
                }
                self.expression(&a.right);
            }
            Expression::AwaitExpression(a) => {
                self.tag("await");
                self.expression(&a.argument);
            }
            Expression::UnaryExpression(u) => {
                self.tag(format_args!("unary {:?}", u.operator));
                self.expression(&u.argument);
            }
            Expression::BinaryExpression(b) => {
                self.tag(format_args!("binary {:?}", b.operator));
                self.expression(&b.left);
                self.expression(&b.right);
            }
            Expression::LogicalExpression(l) => {
                self.tag(format_args!("logical {:?}", l.operator));
                self.expression(&l.left);
                self.expression(&l.right);
            }
            Expression::CallExpression(c) => {
                self.tag(format_args!("call optional={}", c.optional));
                self.expression(&c.callee);
                self.type_arguments(c.type_arguments.as_deref());
                self.arguments(&c.arguments);
            }
            Expression::NewExpression(n) => {
                self.tag("new");
                self.expression(&n.callee);
                self.type_arguments(n.type_arguments.as_deref());
                self.arguments(&n.arguments);
            }
            Expression::ParenthesizedExpression(p) => {
                self.tag("(");
                self.expression(&p.expression);
                self.tag(")");
            }
            Expression::StaticMemberExpression(m) => {
                self.tag(format_args!(". optional={}", m.optional));
                self.expression(&m.object);
                self.ident(&m.property.name);
            }
            Expression::ComputedMemberExpression(m) => {
                self.tag(format_args!("[] optional={}", m.optional));
                self.expression(&m.object);
                self.expression(&m.expression);
            }
            Expression::TSSatisfiesExpression(s) => {
                self.tag("satisfies");
                self.expression(&s.expression);
                self.ts_type(&s.type_annotation);
            }
            Expression::TSAsExpression(s) => {
                self.tag("as");
                self.expression(&s.expression);
                self.ts_type(&s.type_annotation);
            }
            _ => self.unsupported("expression"),
        }
    }

    fn arguments(&mut self, arguments: &[oxc_ast::ast::Argument<'_>]) {
        self.tag("(");
        for argument in arguments {
            match argument.as_expression() {
                Some(e) => self.expression(e),
                None => self.unsupported("spread argument"),
            }
        }
        self.tag(")");
    }

    fn property(&mut self, p: &ObjectProperty<'_>) {
        self.tag(format_args!(
            "property {:?} method={} shorthand={} computed={}",
            p.kind, p.method, p.shorthand, p.computed
        ));
        self.property_key(&p.key);
        self.expression(&p.value);
    }

    fn property_key(&mut self, key: &PropertyKey<'_>) {
        match key {
            PropertyKey::StaticIdentifier(i) => self.ident(&i.name),
            PropertyKey::PrivateIdentifier(_) => self.unsupported("private name"),
            other => match other.as_expression() {
                Some(e) => self.expression(e),
                None => self.unsupported("property key"),
            },
        }
    }

    fn function(&mut self, f: &Function<'_>) {
        self.tag(format_args!(
            "function {:?} async={} generator={} declare={}",
            f.r#type, f.r#async, f.generator, f.declare
        ));
        if let Some(id) = &f.id {
            self.ident(&id.name);
        }
        if f.type_parameters.is_some() || f.this_param.is_some() {
            self.unsupported("function type parameters or `this`");
        }
        self.params(&f.params);
        self.type_annotation(f.return_type.as_deref());
        match &f.body {
            Some(body) => self.function_body(body),
            None => self.tag("no body"),
        }
    }

    fn function_body(&mut self, body: &FunctionBody<'_>) {
        for directive in &body.directives {
            self.unsupported("directive");
            self.string(&directive.expression);
        }
        self.statements(&body.statements);
    }

    fn params(&mut self, params: &FormalParameters<'_>) {
        self.tag(format_args!("params {:?}", params.kind));
        for p in &params.items {
            if !p.decorators.is_empty()
                || p.initializer.is_some()
                || p.accessibility.is_some()
                || p.readonly
                || p.r#override
            {
                self.unsupported("parameter modifiers");
            }
            self.tag(format_args!("param optional={}", p.optional));
            self.binding_pattern(&p.pattern);
            self.type_annotation(p.type_annotation.as_deref());
        }
        if params.rest.is_some() {
            self.unsupported("rest parameter");
        }
        self.tag("end params");
    }

    fn binding_pattern(&mut self, pattern: &BindingPattern<'_>) {
        match pattern {
            BindingPattern::BindingIdentifier(i) => self.ident(&i.name),
            BindingPattern::ObjectPattern(o) => {
                self.tag("pattern{");
                for p in &o.properties {
                    self.tag(format_args!(
                        "binding property shorthand={} computed={}",
                        p.shorthand, p.computed
                    ));
                    self.property_key(&p.key);
                    self.binding_pattern(&p.value);
                }
                if o.rest.is_some() {
                    self.unsupported("rest pattern");
                }
                self.tag("}");
            }
            _ => self.unsupported("binding pattern"),
        }
    }

    fn type_annotation(&mut self, annotation: Option<&TSTypeAnnotation<'_>>) {
        if let Some(annotation) = annotation {
            self.tag(":");
            self.ts_type(&annotation.type_annotation);
        }
    }

    fn type_arguments(&mut self, arguments: Option<&TSTypeParameterInstantiation<'_>>) {
        if let Some(arguments) = arguments {
            self.tag("<");
            for t in &arguments.params {
                self.ts_type(t);
            }
            self.tag(">");
        }
    }

    fn signatures(&mut self, signatures: &[TSSignature<'_>]) {
        self.tag("signatures{");
        for signature in signatures {
            match signature {
                TSSignature::TSPropertySignature(p) => {
                    self.tag(format_args!(
                        "property signature computed={} optional={} readonly={}",
                        p.computed, p.optional, p.readonly
                    ));
                    self.property_key(&p.key);
                    self.type_annotation(p.type_annotation.as_deref());
                }
                _ => self.unsupported("signature"),
            }
        }
        self.tag("}");
    }

    fn ts_type(&mut self, t: &TSType<'_>) {
        match t {
            TSType::TSAnyKeyword(_) => self.tag("any"),
            TSType::TSBooleanKeyword(_) => self.tag("boolean"),
            TSType::TSNeverKeyword(_) => self.tag("never"),
            TSType::TSNullKeyword(_) => self.tag("null"),
            TSType::TSNumberKeyword(_) => self.tag("number"),
            TSType::TSStringKeyword(_) => self.tag("string"),
            TSType::TSUndefinedKeyword(_) => self.tag("undefined"),
            TSType::TSUnknownKeyword(_) => self.tag("unknown"),
            TSType::TSVoidKeyword(_) => self.tag("void"),
            TSType::TSTypeReference(r) => {
                self.tag("type");
                self.type_name(&r.type_name);
                self.type_arguments(r.type_arguments.as_deref());
            }
            TSType::TSUnionType(u) => {
                self.tag("union");
                for t in &u.types {
                    self.ts_type(t);
                }
                self.tag("end union");
            }
            TSType::TSFunctionType(f) => {
                self.tag("function type");
                if f.type_parameters.is_some() || f.this_param.is_some() {
                    self.unsupported("function type parameters or `this`");
                }
                self.params(&f.params);
                self.ts_type(&f.return_type.type_annotation);
            }
            TSType::TSParenthesizedType(p) => {
                self.tag("(");
                self.ts_type(&p.type_annotation);
                self.tag(")");
            }
            TSType::TSArrayType(a) => {
                self.tag("array of");
                self.ts_type(&a.element_type);
            }
            TSType::TSLiteralType(l) => match &l.literal {
                TSLiteral::StringLiteral(s) => self.string(s),
                TSLiteral::BooleanLiteral(b) => self.tag(b.value.to_string()),
                _ => self.unsupported("literal type"),
            },
            TSType::TSTypeLiteral(l) => self.signatures(&l.members),
            _ => self.unsupported("type"),
        }
    }

    fn type_name(&mut self, name: &TSTypeName<'_>) {
        match name {
            TSTypeName::IdentifierReference(i) => self.ident(&i.name),
            TSTypeName::QualifiedName(q) => {
                self.type_name(&q.left);
                self.tag(".");
                self.ident(&q.right.name);
            }
            TSTypeName::ThisExpression(_) => self.unsupported("`this` type"),
        }
    }
}

/// A comment of a parsed file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ParsedComment {
    kind: CommentKind,
    /// The text between `//` and the line end (or between `/*` and `*/`).
    content: String,
    /// Only whitespace precedes the comment on its line.
    own_line: bool,
    /// Only whitespace follows the comment on its line.
    ends_line: bool,
}

/// A parsed TypeScript file.
#[derive(Debug)]
struct Parsed {
    walk: Walk,
    comments: Vec<ParsedComment>,
    statements: usize,
    imports: usize,
}

/// The text before `start` and after `end` on their lines.
fn line_around(source: &str, start: usize, end: usize) -> (&str, &str) {
    let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = source[end..].find('\n').map_or(source.len(), |i| end + i);
    (&source[line_start..start], &source[end..line_end])
}

/// Parses `source` as TypeScript, failing on any diagnostic, and walks it.
fn parse_ts(source: &str, source_type: SourceType, what: &str) -> Parsed {
    let allocator = Allocator::default();
    let ret = Parser::new(&allocator, source, source_type).parse();
    assert!(!ret.panicked, "{what}: the parser gave up:\n{source}");
    let diagnostics: Vec<String> = ret
        .diagnostics
        .errors()
        .chain(ret.diagnostics.warnings())
        .map(|d| format!("{d:?}"))
        .collect();
    assert!(
        diagnostics.is_empty(),
        "{what}: parse diagnostics {diagnostics:#?} in:\n{source}"
    );
    let program = &ret.program;
    let mut walk = Walk::default();
    walk.program(program);
    let comments = program
        .comments
        .iter()
        .map(|c| {
            let content = c.content_span();
            let (before, after) = line_around(source, c.span.start as usize, c.span.end as usize);
            ParsedComment {
                kind: c.kind,
                content: source[content.start as usize..content.end as usize].to_owned(),
                own_line: before.trim().is_empty(),
                ends_line: after.trim().is_empty(),
            }
        })
        .collect();
    let imports = program
        .body
        .iter()
        .filter(|s| matches!(s, Statement::ImportDeclaration(_)))
        .count();
    Parsed {
        walk,
        comments,
        statements: program.body.len(),
        imports,
    }
}

/// Undoes [`comment_text`]'s escaping: `\\` is a backslash and `\u{HEX}` a character.
fn unescape_comment(text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let escape = &rest[i..];
        if let Some(after) = escape.strip_prefix("\\\\") {
            out.push('\\');
            rest = after;
        } else if let Some((hex, after)) =
            escape.strip_prefix("\\u{").and_then(|e| e.split_once('}'))
        {
            let c = u32::from_str_radix(hex, 16)
                .ok()
                .filter(|_| hex.len() <= 6)
                .and_then(char::from_u32)
                .ok_or_else(|| format!("bad escape `\\u{{{hex}}}` in {text:?}"))?;
            out.push(c);
            rest = after;
        } else {
            return Err(format!("unknown escape at {escape:?} in {text:?}"));
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Masks the 16 hex digits after "input " in a header line: the twin's input hash differs.
fn mask_input_hash(text: &str) -> String {
    if let Some(i) = text.find(", input ") {
        let start = i + ", input ".len();
        let hash = text.get(start..start + 16).unwrap_or("");
        if hash.len() == 16 && hash.chars().all(|c| c.is_ascii_hexdigit()) {
            return format!("{}<hash>{}", &text[..start], &text[start + 16..]);
        }
    }
    text.to_owned()
}

/// TypeScript's comment directives (`scanner.ts`: `commentDirectiveRegExSingleLine`), which
/// suppress or demand type errors on the next line.
fn is_ts_directive(line_comment_content: &str) -> bool {
    let rest = line_comment_content
        .strip_prefix('/')
        .unwrap_or(line_comment_content);
    let rest = rest.trim_start();
    rest.starts_with("@ts-ignore") || rest.starts_with("@ts-expect-error")
}

/// Identifiers an injected payload would introduce.
const PAYLOAD_IDENTIFIERS: &[&str] = &["alert", "pwned", "eval", "evil", "Function", "fetch2"];

// ---------------------------------------------------------------------------------------------
// Generated customers
// ---------------------------------------------------------------------------------------------

/// A setting value of a generated destination.
#[derive(Debug, Clone)]
enum Value {
    /// A secret reference to this environment variable.
    Secret(String),
    /// Free text or a URL: hostile, and replaced by a placeholder in the twin.
    Free(String),
    /// A value constrained to a pattern or a list: kept in the twin.
    Fixed(String),
    Bool(bool),
    Int(i64),
    Float(f64),
}

#[derive(Debug, Clone)]
struct Dest {
    id: String,
    name: String,
    kind: &'static str,
    enabled: bool,
    /// Index into the case's environments, or every environment.
    environment: Option<usize>,
    category: Option<ConsentCategory>,
    settings: Vec<(&'static str, Value)>,
}

/// One generated customer, rendered hostile or as its benign twin.
#[derive(Debug, Clone)]
struct Case {
    customer_id: String,
    customer_name: String,
    environments: Vec<String>,
    /// Index of the environment whose worker is generated.
    environment: usize,
    origins: Vec<String>,
    log_level: LogLevel,
    database_url: String,
    destinations: Vec<Dest>,
}

/// A placeholder of the twin and the user text it stands for.
type Substitutions = BTreeMap<String, String>;

fn benign_name(i: usize) -> String {
    format!("Benign destination {i}")
}

impl Case {
    fn environment(&self) -> Environment {
        Environment::new(self.environments[self.environment].as_str()).expect("valid environment")
    }

    /// The declarative customer: hostile, or the benign twin with placeholders.
    fn spec(&self, benign: bool) -> CustomerSpec {
        let text = |hostile: &str, placeholder: String| {
            if benign {
                placeholder
            } else {
                hostile.to_owned()
            }
        };
        CustomerSpec {
            events_debug_secret: None,
            id: self.customer_id.clone(),
            name: text(&self.customer_name, "Benign customer".to_owned()),
            environments: Some(self.environments.clone()),
            trusted_origins: self
                .origins
                .iter()
                .enumerate()
                .map(|(j, o)| text(o, format!("benign-origin-{j}.example")))
                .collect(),
            log_level: Some(self.log_level.as_str().to_owned()),
            database: DatabaseSpec {
                provider: "turso".to_owned(),
                url: text(&self.database_url, "libsql://benign-db.example".to_owned()),
                auth_token: RawValue::Secret(SecretRef::Env("TURSO_AUTH_TOKEN".to_owned())),
            },
            destinations: self
                .destinations
                .iter()
                .enumerate()
                .map(|(i, d)| DestinationSpec {
                    id: d.id.clone(),
                    name: text(&d.name, benign_name(i)),
                    kind: d.kind.to_owned(),
                    enabled: d.enabled,
                    environment: d.environment.map(|e| self.environments[e].clone()),
                    category: d.category.map(|c| c.as_str().to_owned()),
                    settings: d
                        .settings
                        .iter()
                        .map(|(key, value)| {
                            let raw = match value {
                                Value::Secret(var) => RawValue::Secret(SecretRef::Env(var.clone())),
                                Value::Free(s) => RawValue::Text(text(
                                    s,
                                    format!("https://benign-{i}-{}.example/", key.to_lowercase()),
                                )),
                                Value::Fixed(s) => RawValue::Text(s.clone()),
                                Value::Bool(b) => RawValue::Bool(*b),
                                Value::Int(n) => RawValue::Integer(*n),
                                Value::Float(f) => RawValue::Float(*f),
                            };
                            ((*key).to_owned(), raw)
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    /// Validates the hostile customer and its twin; both must validate (the strategies build
    /// only valid input).
    fn configs(&self) -> (CustomerConfig, CustomerConfig) {
        let catalogue = Catalogue::builtin();
        let hostile = self
            .spec(false)
            .validate(&catalogue)
            .unwrap_or_else(|e| panic!("the generated customer does not validate: {e}"));
        let benign = self
            .spec(true)
            .validate(&catalogue)
            .unwrap_or_else(|e| panic!("the benign twin does not validate: {e}"));
        (hostile, benign)
    }

    /// Every placeholder of the twin with the user text it replaces (origins as validation
    /// lowercases them).
    fn substitutions(&self, hostile: &CustomerConfig) -> Substitutions {
        let mut map = Substitutions::new();
        for (j, o) in hostile.customer.trusted_origins.iter().enumerate() {
            map.insert(format!("benign-origin-{j}.example"), o.as_str().to_owned());
        }
        map.insert(
            "libsql://benign-db.example".to_owned(),
            self.database_url.clone(),
        );
        map.insert("Benign customer".to_owned(), self.customer_name.clone());
        for (i, d) in self.destinations.iter().enumerate() {
            map.insert(benign_name(i), d.name.clone());
            for (key, value) in &d.settings {
                if let Value::Free(s) = value {
                    map.insert(
                        format!("https://benign-{i}-{}.example/", key.to_lowercase()),
                        s.clone(),
                    );
                }
            }
        }
        map
    }
}

/// Characters and fragments that have broken generators before.
const HOSTILE: &[&str] = &[
    "*/",
    "/*",
    "//",
    "/**",
    "<!--",
    "-->",
    "</script>",
    "<script>",
    "'",
    "\"",
    "`",
    "${",
    "}",
    "\\",
    "\\\\",
    "\\u{41}",
    "\\u0041",
    "\\x41",
    "\\0",
    "\\n",
    "\n",
    "\r",
    "\r\n",
    "\u{2028}",
    "\u{2029}",
    "\u{85}",
    "\u{b}",
    "\u{c}",
    "\t",
    "\0",
    "\u{0}1",
    "\u{1b}[31m",
    "\u{7f}",
    "\u{202a}",
    "\u{202b}",
    "\u{202c}",
    "\u{202d}",
    "\u{202e}",
    "\u{2066}",
    "\u{2067}",
    "\u{2068}",
    "\u{2069}",
    "\u{200b}",
    "\u{200c}",
    "\u{200d}",
    "\u{200e}",
    "\u{200f}",
    "\u{feff}",
    "\u{61c}",
    "\u{180e}",
    "\u{2060}",
    "\u{2064}",
    "\u{a0}",
    "\u{1680}",
    "\u{3000}",
    "\u{fffd}",
    "\u{fffe}",
    "\u{ffff}",
    "\u{e000}",
    "\u{10ffff}",
    "\u{301}",
    "🎉",
    "名前",
    "ü",
    " ",
    "   ",
    "alert(1)",
    "');alert('pwned');('",
    "\");pwned();(\"",
    "`;pwned();`",
    "*/pwned();/*",
    "\npwned();//",
    "\u{2028}pwned();//",
    "'+eval('evil')+'",
    "}); pwned({",
    "env.TURSO_AUTH_TOKEN",
    "import('evil')",
    "'use strict'",
    "#!/bin/sh",
    "@ts-ignore",
    "@ts-expect-error",
    "/// <reference path=\"evil\" />",
];

/// Strings matching `regex` (compiled once: a `&str` strategy recompiles on every case).
fn re(regex: &str) -> proptest::string::RegexGeneratorStrategy<String> {
    proptest::string::string_regex(regex).unwrap_or_else(|e| panic!("{regex}: {e}"))
}

/// Arbitrary text: any scalar values (controls included), non-control Unicode, and mixes of the
/// hostile fragments.
fn hostile_text() -> BoxedStrategy<String> {
    let piece = prop_oneof![
        3 => select(HOSTILE).prop_map(str::to_owned),
        2 => any::<char>().prop_map(String::from),
        1 => re("[a-zA-Z ]{1,6}"),
    ];
    prop_oneof![
        2 => re("\\PC*"),
        2 => prop::collection::vec(any::<char>(), 0..24).prop_map(String::from_iter),
        4 => prop::collection::vec(piece, 0..12).prop_map(|v| v.concat()),
        1 => prop::collection::vec(any::<char>(), 150..=220).prop_map(String::from_iter),
    ]
    .boxed()
}

fn truncate(s: &str, max_chars: usize) -> String {
    s.chars().take(max_chars).collect()
}

/// A display name that validates: at most [`NAME_MAX`] characters, not blank, no control
/// characters (the model refuses them; bidirectional and zero-width characters stay).
fn name() -> impl Strategy<Value = String> {
    hostile_text().prop_map(|s| {
        let s: String = s.chars().filter(|c| !c.is_control()).collect();
        let mut s = truncate(&s, NAME_MAX);
        if s.trim().is_empty() {
            if s.chars().count() == NAME_MAX {
                s.pop();
            }
            s.insert(0, 'n');
        }
        s
    })
}

/// Keeps the characters a URL setting may hold: printable ASCII without the ones a URL never
/// holds unescaped (double quote, `<`, `>`, backslash, `^`, backtick, `{`, `|`, `}`); single
/// quotes, `$`, `(`, `;`, `/` and `*` stay.
fn url_safe(s: &str) -> String {
    s.chars()
        .filter(|&c| c.is_ascii_graphic() && !"\"<>\\^`{|}".contains(c) && !is_invisible(c))
        .collect()
}

/// A URL with one of `schemes` that validation accepts, with hostile path, query and fragment
/// (validation checks the scheme, the host, an IPv6 literal, the port and the characters
/// [`url_safe`] keeps).
fn hostile_url(schemes: &'static [&'static str]) -> impl Strategy<Value = String> {
    let host = prop_oneof![
        // The last label starts with a letter: a host ending in a number is an IPv4 address
        // to a WHATWG parser (`a.0` is refused as one), as in browsers.
        3 => re("([a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?\\.){0,3}[a-z]([a-z0-9-]{0,8}[a-z0-9])?"),
        1 => re("[A-Za-z0-9_-][A-Za-z0-9._-]{0,10}\\.[A-Za-z_][A-Za-z0-9_-]{0,3}|[A-Za-z_][A-Za-z0-9_-]{0,12}"),
        1 => select(&["[::1]", "[2001:db8::1]", "[fe80::1:2]", "[::ffff:192.0.2.1]"][..])
            .prop_map(str::to_owned),
    ]
    // A label starting `xn--` is punycode, which the WHATWG parser decodes and refuses when it
    // is not valid (`xn--3t`): such hosts are not URLs validation accepts.
    .prop_filter("no punycode labels", |host| {
        !host
            .split('.')
            .any(|label| label.to_ascii_lowercase().starts_with("xn--"))
    });
    let port = prop_oneof![
        2 => Just(String::new()),
        1 => (1u16..=65535).prop_map(|p| format!(":{p}")),
    ];
    let tail = prop::collection::vec(
        (select(&["/", "?", "#", "/@", "/../"][..]), hostile_text()),
        0..3,
    )
    .prop_map(|parts| {
        parts
            .into_iter()
            .map(|(sep, t)| format!("{sep}{}", url_safe(&t)))
            .collect::<String>()
    });
    (select(schemes), host, port, tail).prop_map(|(scheme, host, port, tail)| {
        truncate(&format!("{scheme}://{host}{port}{tail}"), SETTING_MAX)
    })
}

const FORBIDDEN_SCHEMES: &[&str] = &["javascript", "data", "file", "blob", "about", "vbscript"];

/// A trusted origin from c15t's grammar: optional scheme, optional `*.` wildcard, labels or an
/// IPv6 address, optional port; mixed case (validation lowercases it).
fn origin() -> impl Strategy<Value = String> {
    let scheme = prop_oneof![
        1 => Just(String::new()),
        2 => re("[hH][tT][tT][pP][sS]?://"),
        1 => re("[a-zA-Z][a-zA-Z0-9+.-]{0,10}").prop_map(|s| {
            if FORBIDDEN_SCHEMES.contains(&s.to_ascii_lowercase().as_str()) {
                format!("x{s}://")
            } else {
                format!("{s}://")
            }
        }),
    ];
    let label = re("[a-zA-Z0-9_]([a-zA-Z0-9_-]{0,10}[a-zA-Z0-9_])?");
    let host = prop_oneof![
        4 => (any::<bool>(), prop::collection::vec(label, 1..4))
            .prop_map(|(wild, labels)| format!("{}{}", if wild { "*." } else { "" }, labels.join("."))),
        1 => re("\\[[0-9a-fA-F:.]{1,16}\\]"),
    ];
    let port = prop::option::of(1u16..=65535);
    (scheme, host, port)
        .prop_map(|(scheme, host, port)| match port {
            Some(p) => format!("{scheme}{host}:{p}"),
            None => format!("{scheme}{host}"),
        })
        .prop_filter("the origin grammar yields valid origins", |o| {
            TrustedOrigin::parse(o).is_ok()
        })
}

/// Trusted origins, distinct once lowercased.
fn origins() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(origin(), 0..5).prop_map(|list| {
        let mut seen = BTreeSet::new();
        list.into_iter()
            .filter(|o| seen.insert(o.to_ascii_lowercase()))
            .collect()
    })
}

const WINDOWS_RESERVED: &[&str] = &[
    "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8",
    "com9", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
];

/// An id of at most `max` characters (`max` >= 2) from `[a-z0-9][a-z0-9_-]*[a-z0-9]`.
fn id(max: usize) -> impl Strategy<Value = String> {
    let regex = format!("[a-z0-9]([a-z0-9_-]{{0,{}}}[a-z0-9])?", max - 2);
    proptest::string::string_regex(&regex)
        .expect("id regex")
        .prop_map(|s| {
            if WINDOWS_RESERVED.contains(&s.as_str()) {
                format!("{s}0")
            } else {
                s
            }
        })
}

/// A regular expression of the catalogue as proptest takes it (no anchors).
fn unanchored(regex: &str) -> &str {
    regex.trim_start_matches('^').trim_end_matches('$')
}

/// Fields whose value is free text: a string with no pattern that is not a secret.
fn is_free_text(field: &FieldSpec) -> bool {
    field.ty == FieldType::String && field.pattern.is_none() && !field.secret
}

fn field_value(field: &'static FieldSpec) -> BoxedStrategy<Value> {
    if field.secret {
        return re("[A-Z_][A-Z0-9_]{0,20}").prop_map(Value::Secret).boxed();
    }
    match field.ty {
        FieldType::String => match field.pattern {
            Some(p) => proptest::string::string_regex(unanchored(p.regex))
                .unwrap_or_else(|e| panic!("{}: {e}", field.key))
                .prop_map(Value::Fixed)
                .boxed(),
            None => hostile_text()
                .prop_map(|s| Value::Free(truncate(&s, SETTING_MAX)))
                .boxed(),
        },
        // A URL with its own pattern (an `https:`-only vendor option) is constrained text.
        FieldType::Url => match field.pattern {
            // The model also parses every URL (a host ending in a number is an IPv4 address
            // to a WHATWG parser, and `a.0` is not one), so only what parses is kept.
            Some(p) => proptest::string::string_regex(unanchored(p.regex))
                .unwrap_or_else(|e| panic!("{}: {e}", field.key))
                .prop_filter("the model's URL check accepts it", |url| {
                    c15t_model::check_url(url, &["https", "http"]).is_ok()
                })
                .prop_map(Value::Fixed)
                .boxed(),
            None => hostile_url(&["https", "http"])
                .prop_map(Value::Free)
                .boxed(),
        },
        FieldType::Enum(values) => select(values)
            .prop_map(|v| Value::Fixed(v.to_owned()))
            .boxed(),
        FieldType::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        FieldType::Number { integer, min, max } => {
            let lo = min.unwrap_or(-1e9);
            let hi = max.unwrap_or(1e12);
            if integer {
                (lo as i64..=hi as i64).prop_map(Value::Int).boxed()
            } else {
                (lo..=hi).prop_map(Value::Float).boxed()
            }
        }
    }
}

/// Settings of `kind`: every required field, each optional field half the time.
fn settings(kind: &'static KindSpec) -> impl Strategy<Value = Vec<(&'static str, Value)>> {
    kind.fields
        .iter()
        .map(|field| {
            let value = field_value(field);
            let value = if field.required {
                value.prop_map(Some).boxed()
            } else {
                prop::option::of(value).boxed()
            };
            value.prop_map(move |v| v.map(|v| (field.key, v)))
        })
        .collect::<Vec<_>>()
        .prop_map(|values| values.into_iter().flatten().collect())
}

/// A destination of any kind, with the index of its environment when it has one (resolved
/// against the case's environments).
fn destination() -> impl Strategy<Value = (Dest, Option<Index>)> {
    // One strategy per kind, built once: regex strategies are costly to build.
    let per_kind = Catalogue::builtin().kinds().iter().map(|kind| {
        (
            id(40),
            name(),
            prop::bool::weighted(0.8),
            prop_oneof![2 => Just(None), 1 => any::<Index>().prop_map(Some)],
            prop::option::of(select(ConsentCategory::ALL.to_vec())),
            settings(kind),
        )
            .prop_map(
                move |(id, name, enabled, environment, category, settings)| {
                    let dest = Dest {
                        id,
                        name,
                        kind: kind.slug,
                        enabled,
                        environment: None,
                        category,
                        settings,
                    };
                    (dest, environment)
                },
            )
            .boxed()
    });
    proptest::strategy::Union::new(per_kind)
}

/// Environment names: `production` or generated, distinct, one to three.
fn environments() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(
        prop_oneof![1 => Just("production".to_owned()), 2 => id(17)],
        1..4,
    )
    .prop_map(|mut list| {
        let mut seen = BTreeSet::new();
        list.retain(|e| seen.insert(e.clone()));
        list
    })
}

fn case() -> impl Strategy<Value = Case> {
    (
        environments(),
        any::<Index>(),
        id(40),
        name(),
        origins(),
        select(LogLevel::ALL.to_vec()),
        hostile_url(&["libsql", "https", "http", "wss", "ws"]),
        prop::collection::vec(destination(), 0..6),
    )
        .prop_map(
            |(
                environments,
                environment,
                customer_id,
                customer_name,
                origins,
                log_level,
                database_url,
                destinations,
            )| {
                let mut seen = BTreeSet::new();
                let destinations = destinations
                    .into_iter()
                    .enumerate()
                    .map(|(i, (mut d, env))| {
                        // Destination ids must be unique: suffix repeats with their position.
                        while !seen.insert(d.id.clone()) {
                            d.id.push_str(&i.to_string());
                        }
                        d.environment = env.map(|e| e.index(environments.len()));
                        d
                    })
                    .collect();
                Case {
                    customer_id,
                    customer_name,
                    environment: environment.index(environments.len()),
                    environments,
                    origins,
                    log_level,
                    database_url,
                    destinations,
                }
            },
        )
}

// ---------------------------------------------------------------------------------------------
// The checks
// ---------------------------------------------------------------------------------------------

/// Values the hostile worker must hold as string literals: origins, the worker name and every
/// text setting of the environment's destinations.
fn expected_literals(config: &CustomerConfig, env: &Environment) -> Vec<String> {
    let mut out: Vec<String> = config
        .customer
        .trusted_origins
        .iter()
        .map(|o| o.as_str().to_owned())
        .collect();
    out.push(worker_name(&config.customer.id, env));
    for d in config.destinations_for(env) {
        for (_, value) in d.ordered_settings() {
            if let SettingValue::Text(s) = value {
                out.push(s.clone());
            }
        }
    }
    out
}

/// Compares a parsed hostile worker with its parsed benign twin (see the module
/// documentation); returns how many destination comments were decoded and compared.
fn check_against_twin(
    hostile: &Parsed,
    benign: &Parsed,
    map: &Substitutions,
    names: &[String],
    source: &str,
) -> usize {
    assert!(
        benign.walk.unsupported.is_empty(),
        "the walker does not know {:?}; extend it",
        benign.walk.unsupported
    );
    assert_eq!(
        hostile.imports, benign.imports,
        "imports changed:\n{source}"
    );
    assert_eq!(
        hostile.statements, benign.statements,
        "top-level statements changed:\n{source}"
    );
    if hostile.walk.skeleton != benign.walk.skeleton {
        let h: Vec<&str> = hostile.walk.skeleton.lines().collect();
        let b: Vec<&str> = benign.walk.skeleton.lines().collect();
        let at = h
            .iter()
            .zip(&b)
            .position(|(h, b)| h != b)
            .unwrap_or(h.len().min(b.len()));
        let around = |v: &[&str]| v[at.saturating_sub(3)..(at + 3).min(v.len())].join(" ");
        panic!(
            "the structure of the worker changed at node {at}: `{}` where the twin has `{}`\n{source}",
            around(&h),
            around(&b),
        );
    }
    for ident in &hostile.walk.idents {
        assert!(
            !PAYLOAD_IDENTIFIERS.contains(&ident.as_str()),
            "identifier `{ident}` was injected:\n{source}"
        );
    }

    assert_eq!(hostile.walk.strings.len(), benign.walk.strings.len());
    for (h, b) in hostile.walk.strings.iter().zip(&benign.walk.strings) {
        let expected = map.get(b).unwrap_or(b);
        assert_eq!(
            h, expected,
            "a string literal does not round-trip (twin literal {b:?}):\n{source}"
        );
    }

    assert_eq!(
        hostile.comments.len(),
        benign.comments.len(),
        "comments were added or removed:\n{source}"
    );
    let mut named = 0;
    for (h, b) in hostile.comments.iter().zip(&benign.comments) {
        assert_eq!(h.kind, b.kind, "comment kind changed:\n{source}");
        assert!(
            h.own_line && h.ends_line,
            "comment {:?} shares its line:\n{source}",
            h.content
        );
        let name = b
            .content
            .strip_prefix(' ')
            .and_then(|t| map.get(t))
            .filter(|n| names.contains(n));
        match name {
            Some(name) => {
                named += 1;
                assert_eq!(h.kind, CommentKind::Line);
                let text = h
                    .content
                    .strip_prefix(' ')
                    .unwrap_or_else(|| panic!("comment {:?} lost its space", h.content));
                let decoded = unescape_comment(text).unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(
                    decoded,
                    name.trim_end(),
                    "the comment of a destination does not decode to its name:\n{source}"
                );
            }
            None => assert_eq!(
                mask_input_hash(&h.content),
                mask_input_hash(&b.content),
                "a generator comment changed:\n{source}"
            ),
        }
    }
    let benign_named = benign
        .comments
        .iter()
        .filter(|c| c.content.starts_with(" Benign destination "))
        .count();
    assert_eq!(
        named, benign_named,
        "not every destination comment was checked"
    );
    named
}

/// Whether `c` could hide or reorder code on screen, or end a line where an editor does not.
fn is_hidden(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{2028}' | '\u{2029}')
        || is_invisible(c)
}

/// Generated source shows what it does: no raw control, line separator or invisible character
/// (Trojan Source), whatever the user typed.
fn assert_printable(source: &str) {
    if let Some((line, text)) = source
        .lines()
        .enumerate()
        .find(|(_, l)| l.chars().any(is_hidden))
    {
        panic!(
            "line {} holds a raw hidden character: {text:?}\n{source}",
            line + 1
        );
    }
}

/// Generates the worker of `case` for every target, hostile and benign, and checks it.
fn check_worker(case: &Case) {
    let (hostile, benign) = case.configs();
    let env = case.environment();
    let map = case.substitutions(&hostile);
    let names: Vec<String> = case.destinations.iter().map(|d| d.name.clone()).collect();
    let expected = expected_literals(&hostile, &env);
    let in_env = hostile.destinations_for(&env).count();
    for target in TargetProfile::ALL {
        let input = |config| Input {
            config,
            environment: &env,
            target,
            revision: 1,
        };
        let source = generate_worker_source(&input(&hostile)).expect("known environment");
        let twin = generate_worker_source(&input(&benign)).expect("known environment");
        assert_printable(&source);
        let parsed = parse_ts(&source, SourceType::ts(), "src/index.ts");
        let parsed_twin = parse_ts(&twin, SourceType::ts(), "the twin's src/index.ts");
        let named = check_against_twin(&parsed, &parsed_twin, &map, &names, &source);
        assert_eq!(named, in_env, "not one comment per destination:\n{source}");
        for value in &expected {
            assert!(
                parsed.walk.strings.contains(value),
                "{value:?} is not a string literal of:\n{source}"
            );
        }
    }
}

/// Finds `key` in a parsed JSON object expression.
fn json_member<'a, 'b>(object: &'b Expression<'a>, key: &str) -> Option<&'b Expression<'a>> {
    let Expression::ObjectExpression(o) = object else {
        return None;
    };
    o.properties.iter().find_map(|p| match p {
        ObjectPropertyKind::ObjectProperty(p) => match &p.key {
            PropertyKey::StringLiteral(s) if s.value.as_str() == key => Some(&p.value),
            _ => None,
        },
        ObjectPropertyKind::SpreadProperty(_) => None,
    })
}

/// `wrangler.jsonc` read as a JavaScript expression: its database URL var round-trips.
fn check_wrangler(jsonc: &str, database_url: &str) {
    let source = format!("({jsonc})");
    let allocator = Allocator::default();
    let ret = Parser::new(&allocator, &source, SourceType::mjs()).parse();
    assert!(
        !ret.panicked && !ret.diagnostics.has_errors(),
        "wrangler.jsonc is not a JavaScript expression:\n{jsonc}"
    );
    let [Statement::ExpressionStatement(statement)] = ret.program.body.as_slice() else {
        panic!("wrangler.jsonc is more than one value:\n{jsonc}");
    };
    let Expression::ParenthesizedExpression(p) = &statement.expression else {
        panic!("wrangler.jsonc is not one value:\n{jsonc}");
    };
    let url = json_member(&p.expression, "vars")
        .and_then(|vars| json_member(vars, "TURSO_DATABASE_URL"))
        .unwrap_or_else(|| panic!("no vars.TURSO_DATABASE_URL in:\n{jsonc}"));
    let Expression::StringLiteral(url) = url else {
        panic!("the database URL is not a string in:\n{jsonc}");
    };
    assert_eq!(url.value.as_str(), database_url, "in:\n{jsonc}");
}

/// Generates the whole project, hostile and benign: every TypeScript file parses, the worker is
/// [`generate_worker_source`]'s, the declaration files do not depend on user text, and the
/// database URL round-trips through `wrangler.jsonc`.
fn check_project(case: &Case, target: &TargetProfile) {
    let (hostile, benign) = case.configs();
    let env = case.environment();
    let input = |config| Input {
        config,
        environment: &env,
        target,
        revision: 7,
    };
    let project = generate(&input(&hostile)).expect("known environment");
    let twin = generate(&input(&benign)).expect("known environment");
    assert_eq!(
        project.files.iter().map(|f| f.path).collect::<Vec<_>>(),
        twin.files.iter().map(|f| f.path).collect::<Vec<_>>()
    );
    let mut typescript = 0;
    for (file, twin_file) in project.files.iter().zip(&twin.files) {
        if file.path.ends_with(".d.ts") {
            typescript += 1;
            parse_ts(&file.contents, SourceType::d_ts(), file.path);
            let masked =
                |text: &str| -> Vec<String> { text.lines().map(mask_input_hash).collect() };
            assert_eq!(
                masked(&file.contents),
                masked(&twin_file.contents),
                "{} depends on user text",
                file.path
            );
        } else if file.path.ends_with(".ts") {
            typescript += 1;
            assert_printable(&file.contents);
            parse_ts(&file.contents, SourceType::ts(), file.path);
        }
    }
    assert!(typescript >= 2, "no TypeScript files in the project");
    let worker = generate_worker_source(&input(&hostile)).expect("known environment");
    assert_eq!(
        project.file("src/index.ts").map(|f| f.contents.as_str()),
        Some(worker.as_str())
    );
    let wrangler = project.file("wrangler.jsonc").expect("wrangler.jsonc");
    check_wrangler(&wrangler.contents, &case.database_url);
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

// Cases use the XorShift generator: proptest's default ChaCha is several times slower in debug
// builds, and the runs are about the generator, not about cryptographic randomness.
proptest! {
    #![proptest_config(ProptestConfig {
        cases: 10_000,
        failure_persistence: None,
        rng_algorithm: RngAlgorithm::XorShift,
        ..ProptestConfig::default()
    })]

    /// The main property: user text in every field stays inert in `src/index.ts` of both
    /// targets.
    #[test]
    fn user_text_is_inert_in_the_worker(case in case()) {
        check_worker(&case);
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 300,
        failure_persistence: None,
        rng_algorithm: RngAlgorithm::XorShift,
        ..ProptestConfig::default()
    })]

    /// Every TypeScript file of the whole project parses, for both targets.
    #[test]
    fn user_text_is_inert_in_the_project(case in case()) {
        for target in TargetProfile::ALL {
            check_project(&case, target);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2_000,
        failure_persistence: None,
        rng_algorithm: RngAlgorithm::XorShift,
        ..ProptestConfig::default()
    })]

    /// `string_literal` of any string is one printable line that parses back to exactly that
    /// string.
    #[test]
    fn any_string_literal_round_trips(value in hostile_text()) {
        let literal = string_literal(&value);
        prop_assert!(!literal.chars().any(|c| c == '\n' || is_hidden(c)), "{:?}", literal);
        prop_assert_eq!(literal_value(&literal), value);
    }

    /// `comment_text` of any string is one printable line that stays one comment and decodes to
    /// the string without trailing whitespace.
    #[test]
    fn any_comment_text_round_trips(value in hostile_text()) {
        let text = comment_text(&value);
        prop_assert!(!text.chars().any(|c| c == '\n' || is_hidden(c)), "{:?}", text);
        prop_assert_eq!(comment_value(&text), value.trim_end());
    }
}

// ---------------------------------------------------------------------------------------------
// Hand-picked strings
// ---------------------------------------------------------------------------------------------

/// Parses `const x = <literal>;` and returns the literal's decoded value.
fn literal_value(literal: &str) -> String {
    let source = format!("const x = {literal};\n");
    let parsed = parse_ts(&source, SourceType::ts(), "literal");
    assert_eq!(parsed.statements, 1, "{source}");
    assert!(parsed.comments.is_empty(), "{source}");
    assert!(parsed.walk.unsupported.is_empty(), "{source}");
    assert_eq!(parsed.walk.idents, ["x"], "{source}");
    assert_eq!(parsed.walk.strings.len(), 1, "{source}");
    parsed.walk.strings[0].clone()
}

/// Parses `// <text>` before a declaration and returns the comment's decoded text.
fn comment_value(text: &str) -> String {
    let source = format!("\t\t// {text}\nconst x = 1;\n");
    let parsed = parse_ts(&source, SourceType::ts(), "comment");
    assert_eq!(parsed.statements, 1, "{source}");
    assert_eq!(parsed.walk.idents, ["x"], "{source}");
    let [comment] = parsed.comments.as_slice() else {
        panic!("not exactly one comment: {source:?}");
    };
    assert_eq!(comment.kind, CommentKind::Line, "{source:?}");
    assert!(comment.own_line && comment.ends_line, "{source:?}");
    let content = comment.content.strip_prefix(' ').expect("the space");
    unescape_comment(content).unwrap_or_else(|e| panic!("{e}"))
}

const NASTY: &[&str] = &[
    "",
    " ",
    "'",
    "\"",
    "'\"'",
    "\"'\"",
    "\\",
    "\\'",
    "'\\",
    "\\\\'",
    "`",
    "${alert(1)}",
    "*/",
    "/*",
    "*/ alert(1); /*",
    "//",
    "</script><script>alert(1)</script>",
    "<!-- -->",
    "\n",
    "\r",
    "\r\n",
    "a\nalert('pwned')//",
    "\u{2028}",
    "\u{2029}",
    "x\u{2028}alert(1)//",
    "\u{85}",
    "\u{b}\u{c}",
    "\0",
    "\u{0}1",
    "\0\u{38}",
    "\\0",
    "\\x41",
    "\\u0041",
    "\\u{41}",
    "\u{1b}[31mred",
    "\u{7f}",
    "\u{202e}evil\u{202c}",
    "\u{2066}isolate\u{2069}",
    "zero\u{200b}width",
    "\u{feff}bom",
    "\u{61c}\u{180e}\u{2060}",
    "\u{a0}nbsp\u{3000}",
    "\u{fffd}",
    "\u{fffe}\u{ffff}",
    "\u{d7ff}\u{e000}",
    "\u{10ffff}",
    "e\u{301}",
    "🎉 名前 Ünïcödé",
    "trailing   ",
    "trailing\t\n",
    "   leading",
    "');alert('pwned');('",
    "\");pwned();(\"",
    "@ts-ignore",
];

#[test]
fn string_literal_round_trips_for_nasty_strings() {
    for value in NASTY {
        let literal = string_literal(value);
        assert_eq!(&literal_value(&literal), value, "literal {literal}");
        // A literal is one line of printable text.
        assert!(
            !literal
                .chars()
                .any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') || is_invisible(c)),
            "{literal:?} holds a raw terminator, control or invisible character"
        );
    }
}

#[test]
fn comment_text_round_trips_for_nasty_strings() {
    for value in NASTY {
        let text = comment_text(value);
        assert_eq!(comment_value(&text), value.trim_end(), "comment {text:?}");
        assert!(
            !text
                .chars()
                .any(|c| c.is_control() || (c.is_whitespace() && c != ' ') || is_invisible(c)),
            "{text:?} holds a raw line break, control or invisible character"
        );
    }
}

/// Every free-text and URL setting of the catalogue (found by type, not by name) gets hostile
/// text, and every other setting a value its rule accepts.
#[test]
fn every_user_setting_is_fuzzed() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    let mut runner = TestRunner::deterministic();
    let mut hostile = 0;
    for kind in Catalogue::builtin().kinds() {
        for field in kind.fields {
            let value = field_value(field)
                .new_tree(&mut runner)
                .expect("a value")
                .current();
            let free = matches!(value, Value::Free(_));
            let expected =
                is_free_text(field) || (field.ty == FieldType::Url && field.pattern.is_none());
            assert_eq!(free, expected, "{}.{}: {value:?}", kind.slug, field.key);
            hostile += usize::from(free);
        }
    }
    assert!(
        hostile > 0,
        "the catalogue has no free-text or URL setting to fuzz"
    );
}

/// The hostile-strings fixture as a case: a worker checked against its twin by hand-written
/// expectations rather than generated ones.
#[test]
fn fixed_hostile_case() {
    let case = Case {
        customer_id: "cust_hostile".to_owned(),
        customer_name: "Robert'); DROP TABLE customers;-- \" */ </script>".to_owned(),
        environments: vec!["production".to_owned()],
        environment: 0,
        origins: vec![
            "HTTPS://Example.COM".to_owned(),
            "*.wild.example:8443".to_owned(),
        ],
        log_level: LogLevel::Debug,
        database_url: "libsql://db.example/x?q='%22%60$(alert(1))'".to_owned(),
        destinations: vec![
            Dest {
                id: "newline".to_owned(),
                name: "Line one\u{2028}alert('pwned'); // two\u{2029}three */ /*  ".to_owned(),
                kind: "posthog",
                enabled: true,
                environment: None,
                category: None,
                settings: vec![
                    ("apiKey", Value::Fixed("phc_abcdefgh12345678".to_owned())),
                    (
                        "host",
                        Value::Free(
                            "https://ph.example:8443/'-alert(1)-'/it's/%22x%22/%5C');alert(1);('/*"
                                .to_owned(),
                        ),
                    ),
                ],
            },
            Dest {
                id: "bidi".to_owned(),
                name: "\u{202e}evil\u{202c} \\u{41} \\0 \u{2066}[31m".to_owned(),
                kind: "meta-pixel",
                enabled: false,
                environment: Some(0),
                category: Some(ConsentCategory::Measurement),
                settings: vec![
                    ("pixelId", Value::Fixed("1234567890".to_owned())),
                    ("accessToken", Value::Secret("META_TOKEN".to_owned())),
                ],
            },
            Dest {
                id: "bidi-2".to_owned(),
                name: "second".to_owned(),
                kind: "meta-pixel",
                enabled: true,
                environment: None,
                category: None,
                settings: vec![
                    ("pixelId", Value::Fixed("12345".to_owned())),
                    ("accessToken", Value::Secret("META_TOKEN_2".to_owned())),
                ],
            },
            Dest {
                id: "matomo".to_owned(),
                name: "${x} `y`".to_owned(),
                kind: "matomo",
                enabled: true,
                environment: None,
                category: None,
                settings: vec![
                    (
                        "matomoUrl",
                        Value::Free("https://m.example/?a=$(b)&c='d'%3C/script%3E*/".to_owned()),
                    ),
                    ("siteId", Value::Int(42)),
                ],
            },
        ],
    };
    check_worker(&case);
    for target in TargetProfile::ALL {
        check_project(&case, target);
    }
}

/// TypeScript reads `// @ts-ignore` and `// @ts-expect-error` anywhere in a file as directives
/// about the next line, so a destination comment must never read as one: a destination named
/// `@ts-expect-error` makes `tsc` fail (TS2578, unused directive), one named `@ts-ignore` hides
/// type errors of its factory call.
#[test]
fn destination_names_cannot_become_typescript_directives() {
    let names = [
        "@ts-ignore",
        "@ts-expect-error",
        "   @ts-expect-error because",
        "/ @ts-ignore",
    ];
    let case = Case {
        customer_id: "cust".to_owned(),
        customer_name: "Customer".to_owned(),
        environments: vec!["production".to_owned()],
        environment: 0,
        origins: vec![],
        log_level: LogLevel::Info,
        database_url: "libsql://db.example".to_owned(),
        destinations: names
            .iter()
            .enumerate()
            .map(|(i, name)| Dest {
                id: format!("d{i}"),
                name: (*name).to_owned(),
                kind: "x-pixel",
                enabled: true,
                environment: None,
                category: None,
                settings: vec![("pixelId", Value::Fixed("abcde".to_owned()))],
            })
            .collect(),
    };
    let (config, _) = case.configs();
    let env = case.environment();
    for target in TargetProfile::ALL {
        let source = generate_worker_source(&Input {
            config: &config,
            environment: &env,
            target,
            revision: 1,
        })
        .expect("known environment");
        for comment in parse_ts(&source, SourceType::ts(), "src/index.ts").comments {
            assert!(
                comment.kind != CommentKind::Line || !is_ts_directive(&comment.content),
                "`//{}` is a TypeScript directive:\n{source}",
                comment.content
            );
        }
    }
}

#[test]
fn unescape_comment_undoes_comment_text() {
    assert_eq!(
        unescape_comment("a\\\\u{41}\\u{41}\\u{1f389}").as_deref(),
        Ok("a\\u{41}A🎉")
    );
    assert!(unescape_comment("\\x41").is_err());
    assert!(unescape_comment("\\u{41").is_err());
    assert!(unescape_comment("\\u{110000}").is_err());
    assert!(unescape_comment("trailing \\").is_err());
}
