//! The destination catalogue: every kind of analytics destination the control plane can
//! configure, with the typed schema of its settings.
//!
//! The catalogue is data: adding a kind is adding one [`KindSpec`] to [`KINDS`]. Validation, the
//! generator (factories and the TypeScript contract of `@c15t/destinations`), the CLI's
//! `catalogue` listing and the admin UI's forms are all driven by it.
//!
//! Each kind names the `@c15t/scripts` (2.2.0) vendor function a browser loads it with
//! ([`KindSpec::scripts`]) and, per public setting, the vendor option the setting fills
//! ([`FieldSpec::script_option`]). Every kind has one: no kind is server-side only.
//!
//! Vendors of `@c15t/scripts` without a kind, and why:
//!
//! - `vercel-analytics`: Vercel Web Analytics is enabled per Vercel project and served from the
//!   site's own `/_vercel/insights` path; it only works for sites hosted on Vercel (or behind a
//!   Vercel DSN the site owner wires up), and there is no per-customer ID a destination could
//!   hold.
//!
//! Kinds without an `@c15t/scripts` vendor: none (Amplitude, once missing, is there since 2.2.0).

use std::fmt;

use serde::{Deserialize, Serialize};

/// c15t's consent purposes (`AllConsentNames` in c15t's core types), in c15t's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConsentCategory {
    /// Strictly necessary; always allowed.
    Necessary,
    /// Enhanced functionality.
    Functionality,
    /// Analytics and measurement.
    Measurement,
    /// Personalised experience.
    Experience,
    /// Advertising and marketing.
    Marketing,
}

impl ConsentCategory {
    /// Every category, in c15t's order.
    pub const ALL: [ConsentCategory; 5] = [
        Self::Necessary,
        Self::Functionality,
        Self::Measurement,
        Self::Experience,
        Self::Marketing,
    ];

    /// The name c15t uses for this purpose.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Necessary => "necessary",
            Self::Measurement => "measurement",
            Self::Marketing => "marketing",
            Self::Functionality => "functionality",
            Self::Experience => "experience",
        }
    }

    /// Parses c15t's name of a purpose.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl fmt::Display for ConsentCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The type of one setting.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldType {
    /// Free text, optionally constrained by the field's [`Pattern`].
    String,
    /// An absolute `http` or `https` URL.
    Url,
    /// One of a fixed list of strings.
    Enum(&'static [&'static str]),
    /// `true` or `false`.
    Bool,
    /// A finite number, optionally an integer and within bounds.
    Number {
        /// Only whole numbers are allowed.
        integer: bool,
        /// Smallest allowed value.
        min: Option<f64>,
        /// Largest allowed value.
        max: Option<f64>,
    },
}

impl FieldType {
    /// Short name used in listings and JSON (`string`, `url`, `enum`, `bool`, `number`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Url => "url",
            Self::Enum(_) => "enum",
            Self::Bool => "bool",
            Self::Number { .. } => "number",
        }
    }
}

/// A regular expression a string setting must match, with the rule in words for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pattern {
    /// The regular expression (Rust `regex` syntax), matched against the whole value.
    pub regex: &'static str,
    /// What the rule requires, completing "must ...", e.g. `contain only digits`.
    pub expected: &'static str,
}

/// One setting of a destination kind.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FieldSpec {
    /// Setting key as the destination factory takes it (camelCase), e.g. `pixelId`.
    pub key: &'static str,
    /// Human label for forms.
    pub label: &'static str,
    /// Value type.
    pub ty: FieldType,
    /// Whether the setting must be present.
    pub required: bool,
    /// Whether the value is a credential: never stored in plaintext, never inlined into
    /// generated source, bound to the worker as a secret instead.
    pub secret: bool,
    /// Constraint on string values.
    pub pattern: Option<Pattern>,
    /// One sentence telling the user where to find the value.
    pub description: &'static str,
    /// Where the value goes in the options of the kind's `@c15t/scripts` vendor function, as
    /// a dotted path (`id`, `initOptions.api_host`), or `None` when a browser never gets it.
    /// Secrets are never sent to a browser, whatever this says; the catalogue's tests require
    /// `None` for them.
    pub script_option: Option<&'static str>,
}

impl FieldSpec {
    /// An optional, non-secret string field with no pattern; adjust with struct update syntax.
    pub const fn text(key: &'static str, label: &'static str, description: &'static str) -> Self {
        Self {
            key,
            label,
            ty: FieldType::String,
            required: false,
            secret: false,
            pattern: None,
            description,
            script_option: Some(key),
        }
    }

    /// Whether a browser may get this setting: it is not secret and the vendor function takes it.
    pub fn public_script_option(&self) -> Option<&'static str> {
        if self.secret {
            None
        } else {
            self.script_option
        }
    }
}

/// A kind of destination, such as `meta-pixel`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KindSpec {
    /// Stable identifier used in config files and the database (kebab-case).
    pub slug: &'static str,
    /// Name shown to people.
    pub display_name: &'static str,
    /// Consent purpose a destination of this kind needs unless configured otherwise.
    pub default_category: ConsentCategory,
    /// Vendor documentation for the settings.
    pub docs_url: &'static str,
    /// The settings, in the order forms and generated code show them.
    pub fields: &'static [FieldSpec],
    /// The `@c15t/scripts` vendor that loads this kind in the browser, or `None` for a kind
    /// that is server-side only.
    pub scripts: Option<ScriptsVendor>,
    /// The vendor's server API that the worker forwards server-side events to
    /// (`POST /analytics/events`), or `None` for a kind that is browser only.
    pub events: Option<ServerEvents>,
}

/// A vendor's server API for events, as the destinations runtime calls it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerEvents {
    /// The API's name, e.g. `Meta Conversions API`.
    pub api: &'static str,
    /// The settings that must be set for the worker to call it (the API's secret); without
    /// them the destination is browser only.
    pub requires: &'static [&'static str],
}

impl ServerEvents {
    /// Whether a destination with these set setting keys forwards server-side events.
    pub fn ready(&self, is_set: impl Fn(&str) -> bool) -> bool {
        self.requires.iter().all(|key| is_set(key))
    }
}

/// How the browser loads a kind: the `@c15t/scripts` function that builds its c15t `Script`.
///
/// The destinations runtime serves, per destination, the function's module and name and the
/// options taken from the destination's public settings ([`FieldSpec::script_option`]); the
/// browser calls the real function with them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScriptsVendor {
    /// The subpath of `@c15t/scripts` that exports the function: `meta-pixel` for
    /// `@c15t/scripts/meta-pixel`.
    pub module: &'static str,
    /// The exported function, e.g. `metaPixel`.
    pub function: &'static str,
    /// Whether the `Script` the function returns has `alwaysLoad`: c15t loads it while consent
    /// is denied so it can signal consent mode (Google's tags, PostHog). Such a script is
    /// served whatever the visitor consented to.
    pub always_load: bool,
    /// The option that takes the destination's consent category (the Google tag's `category`).
    pub category_option: Option<&'static str>,
}

const fn always_loaded(module: &'static str, function: &'static str) -> Option<ScriptsVendor> {
    Some(ScriptsVendor {
        module,
        function,
        always_load: true,
        category_option: None,
    })
}

const fn vendor(module: &'static str, function: &'static str) -> Option<ScriptsVendor> {
    Some(ScriptsVendor {
        module,
        function,
        always_load: false,
        category_option: None,
    })
}

impl KindSpec {
    /// The `@c15t/destinations` factory for this kind: the slug in camelCase (every hyphen
    /// removed and the following letter upper-cased), e.g. `google-analytics-4` ->
    /// `googleAnalytics4`.
    pub fn factory_name(&self) -> String {
        camel_case(self.slug)
    }

    /// The TypeScript settings type for this kind in the destinations contract, e.g.
    /// `MetaPixelSettings`.
    pub fn settings_type_name(&self) -> String {
        let mut name = camel_case(self.slug);
        if let Some(first) = name.get(0..1) {
            let upper = first.to_ascii_uppercase();
            name.replace_range(0..1, &upper);
        }
        name.push_str("Settings");
        name
    }

    /// Looks up a field by key.
    pub fn field(&self, key: &str) -> Option<&'static FieldSpec> {
        self.fields.iter().find(|f| f.key == key)
    }
}

/// camelCase of a kebab-case slug: `meta-pixel` -> `metaPixel`, `x-pixel` -> `xPixel`.
pub fn camel_case(slug: &str) -> String {
    let mut out = String::with_capacity(slug.len());
    let mut upper = false;
    for c in slug.chars() {
        if c == '-' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// The catalogue of destination kinds.
#[derive(Debug, Clone, Copy)]
pub struct Catalogue {
    kinds: &'static [KindSpec],
}

impl Default for Catalogue {
    fn default() -> Self {
        Self::builtin()
    }
}

impl Catalogue {
    /// The kinds this control plane ships with.
    pub const fn builtin() -> Self {
        Self { kinds: KINDS }
    }

    /// Every kind, in catalogue order.
    pub fn kinds(&self) -> &'static [KindSpec] {
        self.kinds
    }

    /// Looks up a kind by slug.
    pub fn get(&self, slug: &str) -> Option<&'static KindSpec> {
        self.kinds.iter().find(|k| k.slug == slug)
    }
}

const fn pattern(regex: &'static str, expected: &'static str) -> Option<Pattern> {
    Some(Pattern { regex, expected })
}

/// Every built-in destination kind.
pub static KINDS: &[KindSpec] = &[
    KindSpec {
        slug: "meta-pixel",
        display_name: "Meta Pixel",
        default_category: ConsentCategory::Marketing,
        docs_url: "https://developers.facebook.com/docs/meta-pixel/get-started",
        scripts: vendor("meta-pixel", "metaPixel"),
        events: Some(ServerEvents {
            api: "Meta Conversions API",
            requires: &["accessToken"],
        }),
        fields: &[
            FieldSpec {
                required: true,
                pattern: pattern(r"^[0-9]{5,20}$", "contain only digits (5 to 20 of them)"),
                ..FieldSpec::text(
                    "pixelId",
                    "Pixel ID",
                    "The numeric ID shown in Events Manager under Data sources.",
                )
            },
            FieldSpec {
                script_option: None,
                secret: true,
                ..FieldSpec::text(
                    "accessToken",
                    "Conversions API access token",
                    "Token generated in Events Manager > Settings > Conversions API; enables \
                     server-side events.",
                )
            },
            FieldSpec {
                script_option: None,
                pattern: pattern(r"^TEST[0-9]+$", "look like `TEST12345`"),
                ..FieldSpec::text(
                    "testEventCode",
                    "Test event code",
                    "Code from Events Manager > Test events; set it only while testing.",
                )
            },
            FieldSpec {
                ty: FieldType::Bool,
                script_option: None,
                ..FieldSpec::text(
                    "limitedDataUse",
                    "Limited Data Use",
                    "Flags server-side events for Meta's Limited Data Use (US state privacy \
                     laws); Meta geolocates the visitor.",
                )
            },
        ],
    },
    KindSpec {
        slug: "google-analytics",
        display_name: "Google Analytics 4",
        default_category: ConsentCategory::Measurement,
        docs_url: "https://developers.google.com/analytics/devguides/collection/protocol/ga4",
        scripts: Some(ScriptsVendor {
            module: "google-tag",
            function: "gtag",
            always_load: true,
            category_option: Some("category"),
        }),
        events: Some(ServerEvents {
            api: "GA4 Measurement Protocol",
            requires: &["apiSecret"],
        }),
        fields: &[
            FieldSpec {
                script_option: Some("id"),
                required: true,
                pattern: pattern(r"^G-[A-Z0-9]{4,16}$", "look like `G-XXXXXXXXXX`"),
                ..FieldSpec::text(
                    "measurementId",
                    "Measurement ID",
                    "Admin > Data streams > your web stream.",
                )
            },
            FieldSpec {
                script_option: None,
                secret: true,
                ..FieldSpec::text(
                    "apiSecret",
                    "Measurement Protocol API secret",
                    "Admin > Data streams > Measurement Protocol API secrets; enables \
                     server-side events.",
                )
            },
        ],
    },
    KindSpec {
        slug: "posthog",
        display_name: "PostHog",
        default_category: ConsentCategory::Measurement,
        docs_url: "https://posthog.com/docs/libraries/js",
        scripts: always_loaded("posthog", "posthog"),
        events: Some(ServerEvents {
            api: "PostHog capture API",
            requires: &[],
        }),
        fields: &[
            FieldSpec {
                script_option: Some("id"),
                required: true,
                pattern: pattern(
                    r"^phc_[A-Za-z0-9]{8,64}$",
                    "look like `phc_` followed by letters and digits",
                ),
                ..FieldSpec::text(
                    "apiKey",
                    "Project API key",
                    "Project settings > Project API key (public, starts with `phc_`).",
                )
            },
            FieldSpec {
                script_option: Some("apiHost"),
                ty: FieldType::Url,
                ..FieldSpec::text(
                    "host",
                    "API host",
                    "Your PostHog instance, e.g. https://us.i.posthog.com or https://eu.i.posthog.com.",
                )
            },
        ],
    },
    // Google Tag Manager. `@c15t/scripts` calls the container ID `id` and files GTM under
    // `necessary` (it always loads GTM and gates the tags inside through Google Consent Mode).
    // A destination of ours is forwarded events only when its category is granted, and a
    // container can fire ad tags, so it defaults to `marketing`; a container that holds only
    // analytics tags can be configured down to `measurement`. The Script `googleTagManager`
    // returns has `alwaysLoad` (it signals consent through Consent Mode), so the container is
    // served whatever the visitor consented to.
    KindSpec {
        slug: "google-tag-manager",
        display_name: "Google Tag Manager",
        default_category: ConsentCategory::Marketing,
        docs_url: "https://developers.google.com/tag-platform/tag-manager/web",
        scripts: always_loaded("google-tag-manager", "googleTagManager"),
        events: None,
        fields: &[
            FieldSpec {
                script_option: Some("id"),
                required: true,
                pattern: pattern(r"^GTM-[A-Z0-9]{4,12}$", "look like `GTM-XXXXXXX`"),
                ..FieldSpec::text(
                    "containerId",
                    "Container ID",
                    "Shown at the top of the workspace in Tag Manager, next to the container name.",
                )
            },
            // `googleTagManager` always loads gtm.js from www.googletagmanager.com and takes no
            // server container option; the URL is for server-side use only.
            FieldSpec {
                script_option: None,
                ty: FieldType::Url,
                ..FieldSpec::text(
                    "serverContainerUrl",
                    "Server container URL",
                    "The URL of your server-side tagging container (Admin > Container settings); \
                     leave empty if you only use a web container.",
                )
            },
        ],
    },
    KindSpec {
        slug: "tiktok-pixel",
        display_name: "TikTok Pixel",
        default_category: ConsentCategory::Marketing,
        docs_url: "https://ads.tiktok.com/help/article/tiktok-pixel",
        scripts: vendor("tiktok-pixel", "tiktokPixel"),
        events: Some(ServerEvents {
            api: "TikTok Events API",
            requires: &["accessToken"],
        }),
        fields: &[
            FieldSpec {
                required: true,
                pattern: pattern(r"^[A-Z0-9]{20}$", "be 20 upper-case letters and digits"),
                ..FieldSpec::text(
                    "pixelId",
                    "Pixel ID",
                    "The pixel code shown under the pixel's name in TikTok Ads Manager > Tools > \
                     Events.",
                )
            },
            FieldSpec {
                script_option: None,
                secret: true,
                ..FieldSpec::text(
                    "accessToken",
                    "Events API access token",
                    "Generated in Events Manager > your pixel > Settings > Events API; enables \
                     server-side events.",
                )
            },
            // `tiktokPixel` takes no test event code; it tags server-side Events API calls only.
            FieldSpec {
                script_option: None,
                pattern: pattern(r"^TEST[0-9]+$", "look like `TEST12345`"),
                ..FieldSpec::text(
                    "testEventCode",
                    "Test event code",
                    "Code from Events Manager > your pixel > Test events; set it only while \
                     testing.",
                )
            },
        ],
    },
    // `@c15t/scripts` names this `linkedin-insights` and the partner ID `id`.
    KindSpec {
        slug: "linkedin-insight",
        display_name: "LinkedIn Insight Tag",
        default_category: ConsentCategory::Marketing,
        docs_url: "https://www.linkedin.com/help/lms/answer/a418880",
        scripts: vendor("linkedin-insights", "linkedinInsights"),
        events: Some(ServerEvents {
            api: "LinkedIn Conversions API",
            requires: &["accessToken", "conversionRuleId"],
        }),
        fields: &[
            FieldSpec {
                script_option: Some("id"),
                required: true,
                pattern: pattern(r"^[0-9]{4,12}$", "contain only digits (4 to 12 of them)"),
                ..FieldSpec::text(
                    "partnerId",
                    "Partner ID",
                    "Campaign Manager > Data > Signals manager > Insight Tag.",
                )
            },
            FieldSpec {
                script_option: None,
                secret: true,
                ..FieldSpec::text(
                    "accessToken",
                    "Conversions API access token",
                    "OAuth token with the `rw_conversions` scope, generated in Campaign Manager \
                     when you set up the Conversions API; enables server-side conversions.",
                )
            },
            FieldSpec {
                script_option: None,
                pattern: pattern(r"^[0-9]{1,20}$", "contain only digits"),
                ..FieldSpec::text(
                    "conversionRuleId",
                    "Conversion rule ID",
                    "The number at the end of the conversion's URN in Campaign Manager > Data > \
                     Conversion tracking; server-side events need it.",
                )
            },
            FieldSpec {
                script_option: None,
                pattern: pattern(
                    r"^[A-Za-z][A-Za-z0-9_]{0,39}$",
                    "be an event name such as `Purchase` or `Lead`",
                ),
                ..FieldSpec::text(
                    "conversionEvent",
                    "Conversion event",
                    "The server-side event that counts as this conversion (default `Purchase`).",
                )
            },
        ],
    },
    // `@c15t/scripts` names this `mixpanel-analytics`; it takes the same `token` (and refuses
    // one that is not 32 hexadecimal characters, as the pattern here does), and the API host
    // as Mixpanel's own `api_host` init option. Its Script has `alwaysLoad`: c15t opts
    // Mixpanel in and out of tracking rather than withholding the library.
    KindSpec {
        slug: "mixpanel",
        display_name: "Mixpanel",
        default_category: ConsentCategory::Measurement,
        docs_url: "https://docs.mixpanel.com/docs/tracking-methods/sdks/javascript",
        scripts: always_loaded("mixpanel-analytics", "mixpanelAnalytics"),
        events: Some(ServerEvents {
            api: "Mixpanel ingestion API",
            requires: &[],
        }),
        fields: &[
            FieldSpec {
                required: true,
                pattern: pattern(r"^[A-Fa-f0-9]{32}$", "be 32 hexadecimal characters"),
                ..FieldSpec::text(
                    "token",
                    "Project token",
                    "Project settings > Overview > Access keys > Project token.",
                )
            },
            FieldSpec {
                script_option: Some("initOptions.api_host"),
                ty: FieldType::Url,
                ..FieldSpec::text(
                    "apiHost",
                    "API host",
                    "Your project's data residency endpoint, e.g. https://api-eu.mixpanel.com for \
                     the EU; leave empty for the US default.",
                )
            },
            FieldSpec {
                script_option: None,
                secret: true,
                ..FieldSpec::text(
                    "apiSecret",
                    "Project API secret",
                    "Project settings > Overview > Access keys > Project secret; enables \
                     server-side imports.",
                )
            },
        ],
    },
    // Names follow Amplitude's Browser SDK 2 (`apiKey`, `serverZone`). `@c15t/scripts`'
    // `amplitude` takes the same `apiKey` and passes `initOptions` to `amplitude.init`, where
    // Browser SDK 2 reads `serverZone`.
    KindSpec {
        slug: "amplitude",
        display_name: "Amplitude",
        default_category: ConsentCategory::Measurement,
        docs_url: "https://amplitude.com/docs/sdks/analytics/browser/browser-sdk-2",
        scripts: vendor("amplitude", "amplitude"),
        events: Some(ServerEvents {
            api: "Amplitude HTTP V2 API",
            requires: &[],
        }),
        fields: &[
            FieldSpec {
                required: true,
                pattern: pattern(r"^[a-f0-9]{32}$", "be 32 lower-case hexadecimal characters"),
                ..FieldSpec::text(
                    "apiKey",
                    "API key",
                    "Organization settings > Projects > your project > General > API key (public).",
                )
            },
            FieldSpec {
                script_option: Some("initOptions.serverZone"),
                ty: FieldType::Enum(&["US", "EU"]),
                ..FieldSpec::text(
                    "serverZone",
                    "Server zone",
                    "`EU` if your organization is hosted in Amplitude's EU data center, otherwise \
                     `US` (the default).",
                )
            },
        ],
    },
    // The write key is deliberately not a secret: analytics.js sends it from every visitor's
    // browser (it is part of the CDN URL `cdn.segment.com/analytics.js/v1/<writeKey>/...`) and
    // it only grants write access to one source, so it is an identifier, not a credential, and
    // is inlined like a pixel ID. Use a dedicated source for the worker if that matters to you.
    KindSpec {
        slug: "segment",
        display_name: "Segment",
        default_category: ConsentCategory::Measurement,
        docs_url: "https://segment.com/docs/connections/sources/catalog/libraries/server/http-api/",
        scripts: vendor("segment", "segment"),
        events: Some(ServerEvents {
            api: "Segment HTTP tracking API",
            requires: &[],
        }),
        fields: &[
            FieldSpec {
                required: true,
                pattern: pattern(r"^[A-Za-z0-9]{10,64}$", "contain only letters and digits"),
                ..FieldSpec::text(
                    "writeKey",
                    "Write key",
                    "Connections > Sources > your source > Settings > API keys.",
                )
            },
            // The HTTP API base the worker sends to. `segment` takes no host: analytics.js would
            // need it as `integrations['Segment.io'].apiHost` in its load options, which the
            // vendor function does not accept, so this is for server-side use only.
            FieldSpec {
                script_option: None,
                ty: FieldType::Url,
                ..FieldSpec::text(
                    "apiHost",
                    "API host",
                    "https://events.eu1.segmentapis.com for an EU workspace; leave empty for the \
                     default https://api.segment.io.",
                )
            },
        ],
    },
    // `@c15t/scripts` names this `plausible-analytics`; it takes the same legacy `domain`.
    KindSpec {
        slug: "plausible",
        display_name: "Plausible Analytics",
        default_category: ConsentCategory::Measurement,
        docs_url: "https://plausible.io/docs/events-api",
        scripts: vendor("plausible-analytics", "plausibleAnalytics"),
        events: Some(ServerEvents {
            api: "Plausible Events API",
            requires: &[],
        }),
        fields: &[
            FieldSpec {
                required: true,
                pattern: pattern(
                    r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$",
                    "be a lower-case domain name such as `example.com`, without scheme or path",
                ),
                ..FieldSpec::text(
                    "domain",
                    "Site domain",
                    "The domain the site was added under in Plausible, as shown in Site settings \
                     > General.",
                )
            },
            // A base URL (the worker posts to `{apiHost}/api/event`). The vendor's `endpoint` is
            // the full event URL (its `data-api`), and its script always loads from plausible.io
            // unless `scriptUrl` is given, so neither means the same: server-side use only.
            FieldSpec {
                script_option: None,
                ty: FieldType::Url,
                ..FieldSpec::text(
                    "apiHost",
                    "API host",
                    "Base URL of your self-hosted instance or proxy; leave empty for \
                     https://plausible.io.",
                )
            },
        ],
    },
    // `@c15t/scripts` calls the project ID `id` and files Clarity under `measurement`; its
    // function is `clarity`.
    KindSpec {
        slug: "microsoft-clarity",
        display_name: "Microsoft Clarity",
        default_category: ConsentCategory::Measurement,
        docs_url: "https://learn.microsoft.com/en-us/clarity/setup-and-installation/clarity-setup",
        scripts: vendor("microsoft-clarity", "clarity"),
        events: None,
        fields: &[FieldSpec {
            script_option: Some("id"),
            required: true,
            pattern: pattern(
                r"^[a-z0-9]{8,12}$",
                "be lower-case letters and digits (usually 10 of them)",
            ),
            ..FieldSpec::text(
                "projectId",
                "Project ID",
                "Settings > Overview > Project ID in your Clarity project.",
            )
        }],
    },
    KindSpec {
        slug: "x-pixel",
        display_name: "X (Twitter) Pixel",
        default_category: ConsentCategory::Marketing,
        docs_url: "https://business.x.com/en/help/campaign-measurement-and-analytics/conversion-tracking-for-websites",
        scripts: vendor("x-pixel", "xPixel"),
        events: None,
        fields: &[FieldSpec {
            required: true,
            pattern: pattern(
                r"^[a-z0-9]{5,8}$",
                "be 5 to 8 lower-case letters and digits",
            ),
            ..FieldSpec::text(
                "pixelId",
                "Pixel ID",
                "Ads Manager > Tools > Events manager, under your pixel's name.",
            )
        }],
    },
    KindSpec {
        slug: "reddit-pixel",
        display_name: "Reddit Pixel",
        default_category: ConsentCategory::Marketing,
        docs_url: "https://business.reddithelp.com/s/article/reddit-pixel",
        scripts: vendor("reddit-pixel", "redditPixel"),
        events: Some(ServerEvents {
            api: "Reddit Conversions API",
            requires: &["accessToken"],
        }),
        fields: &[
            FieldSpec {
                required: true,
                pattern: pattern(
                    r"^(a2|t2)_[a-z0-9]{4,20}$",
                    "look like `a2_` or `t2_` followed by lower-case letters and digits",
                ),
                ..FieldSpec::text(
                    "pixelId",
                    "Pixel ID",
                    "Ads Manager > Events Manager, next to your pixel's name.",
                )
            },
            FieldSpec {
                script_option: None,
                secret: true,
                ..FieldSpec::text(
                    "accessToken",
                    "Conversions API access token",
                    "Generated in Events Manager > Conversions API; enables server-side events.",
                )
            },
        ],
    },
    // `@c15t/scripts` documents the pixel ID as numeric, but Snap issues UUIDs (the value in
    // `snaptr('init', ...)`), so that is what is accepted here.
    KindSpec {
        slug: "snapchat-pixel",
        display_name: "Snap Pixel",
        default_category: ConsentCategory::Marketing,
        docs_url: "https://businesshelp.snapchat.com/s/article/pixel-website-install",
        scripts: vendor("snapchat-pixel", "snapchatPixel"),
        events: Some(ServerEvents {
            api: "Snapchat Conversions API",
            requires: &["accessToken"],
        }),
        fields: &[
            FieldSpec {
                required: true,
                pattern: pattern(
                    r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
                    "be a lower-case UUID such as `01234567-89ab-cdef-0123-456789abcdef`",
                ),
                ..FieldSpec::text(
                    "pixelId",
                    "Pixel ID",
                    "Ads Manager > Events Manager, under your pixel's name.",
                )
            },
            FieldSpec {
                script_option: None,
                secret: true,
                ..FieldSpec::text(
                    "accessToken",
                    "Conversions API token",
                    "Generated in Business Manager > Business details > Conversions API tokens; \
                     enables server-side events.",
                )
            },
        ],
    },
    // `@c15t/scripts` calls the tag ID `id`; the snippet calls it `ti`. Its Script has
    // `alwaysLoad`: UET loads in consent mode and is told consent through `uetq.push('consent')`.
    KindSpec {
        slug: "microsoft-uet",
        display_name: "Microsoft Advertising UET",
        default_category: ConsentCategory::Marketing,
        docs_url: "https://learn.microsoft.com/en-us/advertising/guides/universal-event-tracking?view=bingads-13",
        scripts: always_loaded("microsoft-uet", "microsoftUet"),
        events: None,
        fields: &[FieldSpec {
            script_option: Some("id"),
            required: true,
            pattern: pattern(r"^[0-9]{4,12}$", "contain only digits (4 to 12 of them)"),
            ..FieldSpec::text(
                "tagId",
                "UET tag ID",
                "Microsoft Advertising > Tools > UET tag, in the Tag ID column.",
            )
        }],
    },
    KindSpec {
        slug: "hotjar",
        display_name: "Hotjar",
        default_category: ConsentCategory::Measurement,
        docs_url: "https://help.hotjar.com/hc/en-us/articles/115009336727-How-to-Install-Your-Hotjar-Tracking-Code",
        scripts: vendor("hotjar", "hotjar"),
        events: None,
        fields: &[FieldSpec {
            required: true,
            pattern: pattern(r"^[1-9][0-9]{0,9}$", "be a number such as `1234567`"),
            ..FieldSpec::text(
                "siteId",
                "Site ID",
                "Sites & Organizations page, in the Site ID column.",
            )
        }],
    },
    // `@c15t/scripts` names this `umami-analytics`; same `websiteId` and `hostUrl`.
    KindSpec {
        slug: "umami",
        display_name: "Umami",
        default_category: ConsentCategory::Measurement,
        docs_url: "https://umami.is/docs/tracker-config",
        scripts: vendor("umami-analytics", "umamiAnalytics"),
        events: Some(ServerEvents {
            api: "Umami send API",
            requires: &[],
        }),
        fields: &[
            FieldSpec {
                required: true,
                pattern: pattern(
                    r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
                    "be a lower-case UUID such as `01234567-89ab-cdef-0123-456789abcdef`",
                ),
                ..FieldSpec::text(
                    "websiteId",
                    "Website ID",
                    "Settings > Websites > Edit > Website ID.",
                )
            },
            FieldSpec {
                ty: FieldType::Url,
                ..FieldSpec::text(
                    "hostUrl",
                    "Host URL",
                    "Base URL of your self-hosted Umami; leave empty for Umami Cloud.",
                )
            },
        ],
    },
    // `@c15t/scripts` names this `matomo-analytics`; same `matomoUrl` (it loads
    // `{matomoUrl}/matomo.js` and tracks to `{matomoUrl}/matomo.php`, Matomo Cloud's
    // `https://<name>.matomo.cloud` included) and `siteId`. Without a `defaultConsent` option
    // its Script is not `alwaysLoad`.
    KindSpec {
        slug: "matomo",
        display_name: "Matomo",
        default_category: ConsentCategory::Measurement,
        docs_url: "https://developer.matomo.org/api-reference/tracking-api",
        scripts: vendor("matomo-analytics", "matomoAnalytics"),
        events: Some(ServerEvents {
            api: "Matomo Tracking API",
            requires: &[],
        }),
        fields: &[
            FieldSpec {
                required: true,
                ty: FieldType::Url,
                ..FieldSpec::text(
                    "matomoUrl",
                    "Matomo URL",
                    "Base URL of your Matomo, e.g. https://analytics.example.com or \
                     https://example.matomo.cloud.",
                )
            },
            FieldSpec {
                required: true,
                ty: FieldType::Number {
                    integer: true,
                    min: Some(1.0),
                    max: None,
                },
                ..FieldSpec::text(
                    "siteId",
                    "Site ID",
                    "Administration > Websites > Manage, in the ID column.",
                )
            },
            FieldSpec {
                script_option: None,
                secret: true,
                ..FieldSpec::text(
                    "tokenAuth",
                    "Auth token",
                    "Personal > Security > Auth tokens; lets server-side hits carry the visitor's \
                     IP and time.",
                )
            },
        ],
    },
    // `@c15t/scripts` names this `fathom-analytics` and calls the site ID `site`.
    KindSpec {
        slug: "fathom",
        display_name: "Fathom Analytics",
        default_category: ConsentCategory::Measurement,
        docs_url: "https://usefathom.com/docs/script/script-settings",
        scripts: vendor("fathom-analytics", "fathomAnalytics"),
        events: None,
        fields: &[FieldSpec {
            script_option: Some("site"),
            required: true,
            pattern: pattern(
                r"^[A-Z0-9]{8}$",
                "be 8 upper-case letters or digits, e.g. `ABCDEFGH`",
            ),
            ..FieldSpec::text(
                "siteId",
                "Site ID",
                "Settings > Sites > your site, or the `data-site` value in your embed code.",
            )
        }],
    },
    KindSpec {
        slug: "cloudflare-web-analytics",
        display_name: "Cloudflare Web Analytics",
        default_category: ConsentCategory::Measurement,
        docs_url: "https://developers.cloudflare.com/analytics/web-analytics/get-started/",
        scripts: vendor("cloudflare-web-analytics", "cloudflareWebAnalytics"),
        events: None,
        fields: &[FieldSpec {
            required: true,
            pattern: pattern(r"^[a-f0-9]{32}$", "be 32 lower-case hexadecimal characters"),
            ..FieldSpec::text(
                "token",
                "Site token",
                "Analytics & Logs > Web Analytics > your site > Manage site: the `token` in the \
                 JS snippet (public).",
            )
        }],
    },
    // Adobe Analytics is deployed through an Adobe Experience Platform Tags (Launch) property;
    // `@c15t/scripts`' `adobeAnalytics` loads the property's embed code URL, which it requires to
    // be `https:`. The URL itself is what identifies the property.
    KindSpec {
        slug: "adobe-analytics",
        display_name: "Adobe Analytics (Adobe Tags)",
        default_category: ConsentCategory::Measurement,
        docs_url: "https://experienceleague.adobe.com/docs/core-services-learn/implementing-in-websites-with-launch/configure-launch/launch-add-embed.html?lang=en",
        scripts: vendor("adobe-analytics", "adobeAnalytics"),
        events: None,
        fields: &[FieldSpec {
            required: true,
            ty: FieldType::Url,
            pattern: pattern(
                r"^https://[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(/[A-Za-z0-9._~-]+)*/[A-Za-z0-9._~-]+\.js$",
                "be the `https://` URL of a `.js` file, such as \
                 `https://assets.adobedtm.com/.../launch-....min.js`",
            ),
            ..FieldSpec::text(
                "scriptUrl",
                "Embed code URL",
                "Data Collection > Tags > your property > Environments > Production > Install: \
                 the `src` of the embed code.",
            )
        }],
    },
    // `@c15t/scripts` names this `ahrefs-analytics`; the project key is public (the snippet's
    // `data-key`).
    KindSpec {
        slug: "ahrefs",
        display_name: "Ahrefs Web Analytics",
        default_category: ConsentCategory::Measurement,
        docs_url: "https://ahrefs.com/web-analytics",
        scripts: vendor("ahrefs-analytics", "ahrefsAnalytics"),
        events: None,
        fields: &[FieldSpec {
            required: true,
            pattern: pattern(
                r"^[A-Za-z0-9+/_-]{16,64}={0,2}$",
                "be the `data-key` of the Ahrefs snippet (16 to 64 letters, digits, `+`, `/`, \
                 `_` or `-`)",
            ),
            ..FieldSpec::text(
                "key",
                "Project key",
                "Web Analytics > your project > Settings > Installation: the `data-key` value of \
                 the tracking snippet.",
            )
        }],
    },
    // The publishable key is public by design (it is part of the tag's URL,
    // `tag.clearbitscripts.com/v1/<key>/tags.js`), so it is not a secret. `@c15t/scripts` files
    // Clearbit under `marketing`: it identifies visiting companies for sales and ads.
    KindSpec {
        slug: "clearbit",
        display_name: "Clearbit (Breeze Intelligence)",
        default_category: ConsentCategory::Marketing,
        docs_url: "https://help.clearbit.com/hc/en-us/articles/360010019734-Getting-started-with-clearbit-js",
        scripts: vendor("clearbit", "clearbit"),
        events: None,
        fields: &[FieldSpec {
            required: true,
            pattern: pattern(
                r"^pk_[A-Za-z0-9]{20,64}$",
                "look like `pk_` followed by letters and digits",
            ),
            ..FieldSpec::text(
                "publishableKey",
                "Publishable key",
                "Clearbit dashboard > API: the publishable key (starts with `pk_`), not the \
                 secret `sk_` key.",
            )
        }],
    },
    // `@c15t/scripts`' `databuddy` returns an `alwaysLoad` Script: the library loads whatever
    // the visitor chose and c15t turns tracking on and off through `databuddy.options.disabled`.
    // Its `configWhenGranted` / `configWhenDenied` objects are not settings.
    KindSpec {
        slug: "databuddy",
        display_name: "Databuddy",
        default_category: ConsentCategory::Measurement,
        docs_url: "https://www.databuddy.cc/docs/sdk",
        scripts: always_loaded("databuddy", "databuddy"),
        events: None,
        fields: &[
            FieldSpec {
                required: true,
                pattern: pattern(
                    r"^[A-Za-z0-9][A-Za-z0-9_-]{7,63}$",
                    "be 8 to 64 letters, digits, `_` or `-`",
                ),
                ..FieldSpec::text(
                    "clientId",
                    "Client ID",
                    "Dashboard > your website > Settings: the `data-client-id` of the tracking \
                     script.",
                )
            },
            FieldSpec {
                ty: FieldType::Url,
                ..FieldSpec::text(
                    "apiUrl",
                    "API URL",
                    "Where events are sent, for a proxy or self-hosted Databuddy; leave empty for \
                     https://basket.databuddy.cc.",
                )
            },
        ],
    },
    // Heap calls the ID of an environment its app ID; `@c15t/scripts` calls it `envId`.
    KindSpec {
        slug: "heap",
        display_name: "Heap",
        default_category: ConsentCategory::Measurement,
        docs_url: "https://help.heap.io/installation/standard-installations/web-installation/",
        scripts: vendor("heap", "heap"),
        events: None,
        fields: &[FieldSpec {
            required: true,
            pattern: pattern(r"^[1-9][0-9]{3,19}$", "be a number such as `1535634150`"),
            ..FieldSpec::text(
                "envId",
                "App ID",
                "Account > Manage > Projects: the app ID of the environment to send data to.",
            )
        }],
    },
    // Hightouch Events' write key, like Segment's, is sent from every visitor's browser and only
    // writes to one source: an identifier, not a secret.
    KindSpec {
        slug: "hightouch",
        display_name: "Hightouch Events",
        default_category: ConsentCategory::Measurement,
        docs_url: "https://hightouch.com/docs/events/sdks/browser",
        scripts: vendor("hightouch", "hightouch"),
        events: Some(ServerEvents {
            api: "Hightouch Events HTTP API",
            requires: &[],
        }),
        fields: &[
            FieldSpec {
                required: true,
                pattern: pattern(
                    r"^[A-Za-z0-9_-]{16,128}$",
                    "contain only letters, digits, `_` and `-` (16 or more)",
                ),
                ..FieldSpec::text(
                    "writeKey",
                    "Write key",
                    "Events > Sources > your browser source > Setup: the write key.",
                )
            },
            // The browser SDK takes a host name without scheme (`us-east-1.hightouch-events.com`).
            FieldSpec {
                pattern: pattern(
                    r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$",
                    "be a lower-case host name such as `us-east-1.hightouch-events.com`, without \
                     scheme or path",
                ),
                ..FieldSpec::text(
                    "apiHost",
                    "API host",
                    "The API host of your source's region or your first-party tracking domain; \
                     leave empty for us-east-1.hightouch-events.com.",
                )
            },
        ],
    },
    // `@c15t/scripts`' function is `logRocket`; it refuses an app ID that is not `org/app`.
    KindSpec {
        slug: "logrocket",
        display_name: "LogRocket",
        default_category: ConsentCategory::Measurement,
        docs_url: "https://docs.logrocket.com/docs/quickstart",
        scripts: vendor("logrocket", "logRocket"),
        events: None,
        fields: &[FieldSpec {
            required: true,
            pattern: pattern(
                r"^[a-z0-9][a-z0-9_-]{0,63}/[a-z0-9][a-z0-9_-]{0,63}$",
                "look like `org-slug/app-slug`",
            ),
            ..FieldSpec::text(
                "appId",
                "App ID",
                "Settings > Project Setup in LogRocket, the value passed to `LogRocket.init`.",
            )
        }],
    },
    KindSpec {
        slug: "pirsch",
        display_name: "Pirsch Analytics",
        default_category: ConsentCategory::Measurement,
        docs_url: "https://docs.pirsch.io/get-started/frontend-integration/",
        scripts: vendor("pirsch", "pirsch"),
        events: None,
        fields: &[FieldSpec {
            required: true,
            pattern: pattern(r"^[A-Za-z0-9]{32}$", "be 32 letters and digits"),
            ..FieldSpec::text(
                "identificationCode",
                "Identification code",
                "Settings > Integration in your Pirsch dashboard, the snippet's `data-code`.",
            )
        }],
    },
    // Promptwatch measures visits that come from AI assistants and crawlers.
    KindSpec {
        slug: "promptwatch",
        display_name: "Promptwatch",
        default_category: ConsentCategory::Measurement,
        docs_url: "https://promptwatch.com/docs",
        scripts: vendor("promptwatch", "promptwatch"),
        events: None,
        fields: &[FieldSpec {
            required: true,
            pattern: pattern(
                r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
                "be a lower-case UUID such as `01234567-89ab-cdef-0123-456789abcdef`",
            ),
            ..FieldSpec::text(
                "projectId",
                "Project ID",
                "Project settings in Promptwatch, the tracking snippet's `data-project-id`.",
            )
        }],
    },
    // The write key is an identifier sent from every browser, like Segment's. `rudderstack`
    // refuses a data plane URL that is not `https:`.
    KindSpec {
        slug: "rudderstack",
        display_name: "RudderStack",
        default_category: ConsentCategory::Measurement,
        docs_url: "https://www.rudderstack.com/docs/sources/event-streams/sdks/rudderstack-javascript-sdk/",
        scripts: vendor("rudderstack", "rudderstack"),
        events: Some(ServerEvents {
            api: "RudderStack HTTP API",
            requires: &[],
        }),
        fields: &[
            FieldSpec {
                required: true,
                pattern: pattern(r"^[A-Za-z0-9]{27}$", "be 27 letters and digits"),
                ..FieldSpec::text(
                    "writeKey",
                    "Write key",
                    "Collect > Sources > your JavaScript source > Setup: the write key.",
                )
            },
            FieldSpec {
                required: true,
                ty: FieldType::Url,
                pattern: pattern(
                    r"^https://[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[1-9][0-9]{0,3})?/?$",
                    "be an `https://` URL without a path, such as \
                     `https://example.dataplane.rudderstack.com`",
                ),
                ..FieldSpec::text(
                    "dataPlaneUrl",
                    "Data plane URL",
                    "Shown at the top of the Connections page of your RudderStack workspace.",
                )
            },
        ],
    },
    // `@c15t/scripts` names this `rybbit-analytics`.
    KindSpec {
        slug: "rybbit",
        display_name: "Rybbit",
        default_category: ConsentCategory::Measurement,
        docs_url: "https://www.rybbit.com/docs/script",
        scripts: vendor("rybbit-analytics", "rybbitAnalytics"),
        events: None,
        fields: &[
            FieldSpec {
                required: true,
                pattern: pattern(r"^[1-9][0-9]{0,9}$", "be a number such as `123`"),
                ..FieldSpec::text(
                    "siteId",
                    "Site ID",
                    "Site Settings > Tracking Script in your Rybbit dashboard.",
                )
            },
            // The vendor loads `{analyticsHost}/script.js` and sends events there.
            FieldSpec {
                ty: FieldType::Url,
                ..FieldSpec::text(
                    "analyticsHost",
                    "Analytics host",
                    "The API base of your self-hosted Rybbit, e.g. https://rybbit.example.com/api; \
                     leave empty for Rybbit Cloud.",
                )
            },
        ],
    },
    // A chat widget: `@c15t/scripts` files it under `functionality`.
    KindSpec {
        slug: "crisp",
        display_name: "Crisp",
        default_category: ConsentCategory::Functionality,
        docs_url: "https://docs.crisp.chat/guides/chatbox-sdks/web-sdk/",
        scripts: vendor("crisp", "crisp"),
        events: None,
        fields: &[FieldSpec {
            required: true,
            pattern: pattern(
                r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
                "be a lower-case UUID such as `01234567-89ab-cdef-0123-456789abcdef`",
            ),
            ..FieldSpec::text(
                "websiteId",
                "Website ID",
                "Settings > Workspace Settings > Setup & Integrations: the Website ID.",
            )
        }],
    },
    // A chat widget: `@c15t/scripts` files it under `functionality`. The API base is one of
    // Intercom's three regional hosts, exactly as the vendor function takes it.
    KindSpec {
        slug: "intercom",
        display_name: "Intercom Messenger",
        default_category: ConsentCategory::Functionality,
        docs_url: "https://developers.intercom.com/installing-intercom/web/installation/",
        scripts: vendor("intercom", "intercom"),
        events: None,
        fields: &[
            FieldSpec {
                required: true,
                pattern: pattern(r"^[a-z0-9]{8}$", "be 8 lower-case letters and digits"),
                ..FieldSpec::text(
                    "appId",
                    "Workspace ID",
                    "The workspace (app) ID in your Intercom URL, app.intercom.com/a/apps/<id>.",
                )
            },
            FieldSpec {
                ty: FieldType::Enum(&[
                    "https://api-iam.intercom.io",
                    "https://api-iam.eu.intercom.io",
                    "https://api-iam.au.intercom.io",
                ]),
                ..FieldSpec::text(
                    "apiBase",
                    "Regional API base",
                    "The EU or Australian host if your workspace is hosted there; leave empty for \
                     the US default.",
                )
            },
        ],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factory_name_camel_cases_every_hyphen() {
        assert_eq!(camel_case("meta-pixel"), "metaPixel");
        assert_eq!(camel_case("google-tag-manager"), "googleTagManager");
        assert_eq!(camel_case("posthog"), "posthog");
    }

    #[test]
    fn catalogue_is_well_formed() {
        let mut slugs = std::collections::BTreeSet::new();
        for kind in KINDS {
            assert!(slugs.insert(kind.slug), "duplicate slug {}", kind.slug);
            assert!(
                kind.slug
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "slug {} is not kebab-case",
                kind.slug
            );
            assert!(
                kind.docs_url.starts_with("https://"),
                "{} docs link",
                kind.slug
            );
            let mut keys = std::collections::BTreeSet::new();
            for field in kind.fields {
                assert!(
                    keys.insert(field.key),
                    "{}: duplicate field {}",
                    kind.slug,
                    field.key
                );
                assert!(
                    field.key.chars().all(|c| c.is_ascii_alphanumeric())
                        && field.key.starts_with(|c: char| c.is_ascii_lowercase()),
                    "{}.{} must be a camelCase identifier",
                    kind.slug,
                    field.key
                );
                if let Some(p) = field.pattern {
                    regex::Regex::new(p.regex).unwrap_or_else(|e| {
                        panic!("{}.{}: bad pattern: {e}", kind.slug, field.key)
                    });
                    assert!(p.regex.starts_with('^') && p.regex.ends_with('$'));
                }
                assert!(
                    !(field.secret && field.ty != FieldType::String),
                    "secrets are strings"
                );
            }
        }
    }

    /// Kinds a browser never loads (no `@c15t/scripts` vendor). None today; a kind listed here
    /// must say why in its comment.
    const SERVER_ONLY: [&str; 0] = [];

    /// The vendor subpaths `@c15t/scripts` 2.2.0 exports (its package.json `exports`, without
    /// `registry` and `*`).
    const SCRIPTS_MODULES: [&str; 34] = [
        "adobe-analytics",
        "ahrefs-analytics",
        "amplitude",
        "cloudflare-web-analytics",
        "clearbit",
        "microsoft-clarity",
        "databuddy",
        "fathom-analytics",
        "heap",
        "hotjar",
        "hightouch",
        "rudderstack",
        "logrocket",
        "google-tag",
        "matomo-analytics",
        "mixpanel-analytics",
        "pirsch",
        "plausible-analytics",
        "posthog",
        "promptwatch",
        "segment",
        "rybbit-analytics",
        "umami-analytics",
        "vercel-analytics",
        "crisp",
        "intercom",
        "google-tag-manager",
        "linkedin-insights",
        "meta-pixel",
        "reddit-pixel",
        "microsoft-uet",
        "snapchat-pixel",
        "tiktok-pixel",
        "x-pixel",
    ];

    /// Vendors of `@c15t/scripts` without a kind; the module documentation says why.
    const LEFT_OUT: [&str; 1] = ["vercel-analytics"];

    fn is_dotted_identifier(path: &str) -> bool {
        path.split('.').all(|part| {
            part.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
    }

    #[test]
    fn every_kind_says_how_a_browser_loads_it() {
        for kind in KINDS {
            let Some(vendor) = kind.scripts else {
                assert!(
                    SERVER_ONLY.contains(&kind.slug),
                    "{} has no `scripts` and is not a documented server-only kind",
                    kind.slug
                );
                assert!(
                    kind.fields.iter().all(|f| f.script_option.is_none()),
                    "{}: a server-only kind has no vendor options",
                    kind.slug
                );
                continue;
            };
            assert!(
                !SERVER_ONLY.contains(&kind.slug),
                "{} is listed as server-only but has `scripts`",
                kind.slug
            );
            assert!(
                SCRIPTS_MODULES.contains(&vendor.module),
                "{}: `@c15t/scripts/{}` is not a module of @c15t/scripts 2.2.0",
                kind.slug,
                vendor.module
            );
            assert!(
                is_dotted_identifier(vendor.function) && !vendor.function.contains('.'),
                "{}: function {} is not an identifier",
                kind.slug,
                vendor.function
            );
            if let Some(option) = vendor.category_option {
                assert!(is_dotted_identifier(option), "{}: {option}", kind.slug);
            }
            let mut options = std::collections::BTreeSet::new();
            for field in kind.fields {
                if field.secret {
                    assert_eq!(
                        field.script_option, None,
                        "{}.{} is secret: it must not name a vendor option",
                        kind.slug, field.key
                    );
                }
                if field.required {
                    assert!(
                        field.script_option.is_some(),
                        "{}.{} is required but fills no vendor option",
                        kind.slug,
                        field.key
                    );
                }
                if let Some(option) = field.script_option {
                    assert!(
                        is_dotted_identifier(option),
                        "{}.{}: `{option}` is not a dotted path of identifiers",
                        kind.slug,
                        field.key
                    );
                    assert!(
                        Some(option) != vendor.category_option,
                        "{}.{}: `{option}` takes the category",
                        kind.slug,
                        field.key
                    );
                    assert!(
                        options.insert(option),
                        "{}: two settings fill `{option}`",
                        kind.slug
                    );
                }
                assert_eq!(field.public_script_option(), {
                    if field.secret {
                        None
                    } else {
                        field.script_option
                    }
                });
            }
        }
    }

    #[test]
    fn every_scripts_vendor_has_a_kind_or_a_reason() {
        for module in SCRIPTS_MODULES {
            let kinds = KINDS
                .iter()
                .filter(|k| k.scripts.is_some_and(|v| v.module == module))
                .count();
            if LEFT_OUT.contains(&module) {
                assert_eq!(kinds, 0, "{module} is listed as left out but has a kind");
                let doc: String = SOURCE
                    .lines()
                    .filter_map(|l| l.strip_prefix("//!"))
                    .collect();
                assert!(
                    doc.contains(&format!("- `{module}`: ")),
                    "the module documentation does not say why {module} has no kind"
                );
            } else {
                assert!(kinds >= 1, "@c15t/scripts/{module} has no kind");
            }
        }
    }

    const SOURCE: &str = include_str!("catalogue.rs");

    #[test]
    fn pinned_vendor_mappings() {
        // Mappings that are not a plain rename of the setting key, checked against
        // @c15t/scripts 2.2.0's option types.
        let cases = [
            ("google-analytics", "measurementId", Some("id")),
            ("posthog", "apiKey", Some("id")),
            ("posthog", "host", Some("apiHost")),
            ("google-tag-manager", "containerId", Some("id")),
            ("google-tag-manager", "serverContainerUrl", None),
            ("tiktok-pixel", "testEventCode", None),
            ("meta-pixel", "testEventCode", None),
            ("linkedin-insight", "partnerId", Some("id")),
            ("mixpanel", "apiHost", Some("initOptions.api_host")),
            ("amplitude", "serverZone", Some("initOptions.serverZone")),
            ("segment", "apiHost", None),
            ("plausible", "apiHost", None),
            ("microsoft-clarity", "projectId", Some("id")),
            ("microsoft-uet", "tagId", Some("id")),
            ("fathom", "siteId", Some("site")),
            ("matomo", "matomoUrl", Some("matomoUrl")),
            ("umami", "hostUrl", Some("hostUrl")),
        ];
        let catalogue = Catalogue::builtin();
        for (slug, key, option) in cases {
            let field = catalogue.get(slug).unwrap().field(key).unwrap();
            assert_eq!(field.script_option, option, "{slug}.{key}");
        }
        let always: Vec<_> = KINDS
            .iter()
            .filter(|k| k.scripts.is_some_and(|v| v.always_load))
            .map(|k| k.slug)
            .collect();
        assert_eq!(
            always,
            [
                "google-analytics",
                "posthog",
                "google-tag-manager",
                "mixpanel",
                "microsoft-uet",
                "databuddy",
            ]
        );
    }

    const REQUIRED_SLUGS: [&str; 12] = [
        "meta-pixel",
        "google-analytics",
        "posthog",
        "google-tag-manager",
        "tiktok-pixel",
        "linkedin-insight",
        "mixpanel",
        "amplitude",
        "segment",
        "plausible",
        "microsoft-clarity",
        "x-pixel",
    ];

    #[test]
    fn catalogue_has_the_required_kinds() {
        assert!(KINDS.len() >= 14, "only {} kinds", KINDS.len());
        let catalogue = Catalogue::builtin();
        for slug in REQUIRED_SLUGS {
            assert!(catalogue.get(slug).is_some(), "missing kind {slug}");
        }
        for kind in KINDS {
            assert!(
                kind.default_category != ConsentCategory::Necessary,
                "{} must not default to necessary",
                kind.slug
            );
            assert!(
                kind.fields.iter().any(|f| f.required),
                "{} has no required field",
                kind.slug
            );
        }
    }

    fn accepts(slug: &str, key: &str, value: &str) -> bool {
        let field = Catalogue::builtin().get(slug).unwrap().field(key).unwrap();
        let p = field
            .pattern
            .unwrap_or_else(|| panic!("{slug}.{key} has no pattern"));
        regex::Regex::new(p.regex).unwrap().is_match(value)
    }

    #[test]
    fn patterns_accept_real_id_shapes() {
        let good = [
            ("google-tag-manager", "containerId", "GTM-5XKQ9RZ"),
            ("tiktok-pixel", "pixelId", "C4D45N9U9OSI64ECRUG0"),
            ("tiktok-pixel", "testEventCode", "TEST60868"),
            ("linkedin-insight", "partnerId", "2503796"),
            ("mixpanel", "token", "1234567890abcdef1234567890abcdef"),
            ("amplitude", "apiKey", "d6b0c5838f2848aeb5f090043e673d4e"),
            ("segment", "writeKey", "uujaytBec0IKw7feQ5OWz4LtxHlNceya"),
            ("segment", "writeKey", "ig7q6np7c1"),
            ("plausible", "domain", "example.com"),
            ("plausible", "domain", "blog.example.co.uk"),
            ("microsoft-clarity", "projectId", "i1vb08zics"),
            ("x-pixel", "pixelId", "nyl43"),
            ("reddit-pixel", "pixelId", "a2_hz77nm0joupm"),
            ("reddit-pixel", "pixelId", "t2_abcdef"),
            (
                "snapchat-pixel",
                "pixelId",
                "cf38dbeb-49ab-4061-afde-b1354f90975a",
            ),
            ("microsoft-uet", "tagId", "187093698"),
            ("hotjar", "siteId", "1234567"),
            ("umami", "websiteId", "ec33da65-f286-4a0a-94de-f8f3aadc5a2c"),
            ("fathom", "siteId", "NMHGBIOO"),
            (
                "cloudflare-web-analytics",
                "token",
                "4c5f0c3d3e5a4d1ba0d2d9f0a0f0a0f0",
            ),
            (
                "adobe-analytics",
                "scriptUrl",
                "https://assets.adobedtm.com/2a518741ab24/5e9f8e7d6c5b/launch-ENa1b2c3d4e5f6-development.min.js",
            ),
            ("ahrefs", "key", "fd3eKSs6Vl2RPsjSJNgIog"),
            (
                "clearbit",
                "publishableKey",
                "pk_0123456789abcdef0123456789abcdef",
            ),
            (
                "databuddy",
                "clientId",
                "3ed1fce1-5a56-4cbc-a917-66864f6d18e3",
            ),
            ("databuddy", "clientId", "OXmNQsViBT-FOS_wZCTHc"),
            ("heap", "envId", "1535634150"),
            ("hightouch", "writeKey", "a8e6c1f0b1c94d0e9f7a2b3c4d5e6f70"),
            ("hightouch", "apiHost", "us-east-1.hightouch-events.com"),
            ("logrocket", "appId", "9cf0rr/herodevs-website"),
            (
                "pirsch",
                "identificationCode",
                "gXsqHgZyOhGsnsfaHyPcQxf7qfDJR3Qi",
            ),
            (
                "promptwatch",
                "projectId",
                "7d60345b-27bb-4779-a385-d4fc19ce732c",
            ),
            ("rudderstack", "writeKey", "1Qb1F3jSWv0eKFBPZcrM7ypgjVo"),
            (
                "rudderstack",
                "dataPlaneUrl",
                "https://hosted.rudderlabs.com",
            ),
            (
                "rudderstack",
                "dataPlaneUrl",
                "https://examplecorp.dataplane.rudderstack.com/",
            ),
            ("rybbit", "siteId", "123"),
            ("crisp", "websiteId", "e987cede-c42d-4c32-8cf3-1a4a074abd73"),
            ("intercom", "appId", "u6ljgpqe"),
        ];
        for (slug, key, value) in good {
            assert!(accepts(slug, key, value), "{slug}.{key} rejects {value}");
        }
        let bad = [
            ("google-tag-manager", "containerId", "gtm-5xkq9rz"),
            ("google-tag-manager", "containerId", "G-XXXXXXXXXX"),
            ("tiktok-pixel", "pixelId", "123456789012345"),
            ("linkedin-insight", "partnerId", "li-2503796"),
            ("mixpanel", "token", "not-a-token"),
            ("plausible", "domain", "https://example.com"),
            ("plausible", "domain", "example.com/blog"),
            ("microsoft-clarity", "projectId", "I1VB08ZICS"),
            ("x-pixel", "pixelId", "tw-123"),
            ("snapchat-pixel", "pixelId", "123456789012345"),
            ("hotjar", "siteId", "0"),
            (
                "adobe-analytics",
                "scriptUrl",
                "http://assets.adobedtm.com/a/b/launch-x.min.js",
            ),
            (
                "adobe-analytics",
                "scriptUrl",
                "https://assets.adobedtm.com/a/b/",
            ),
            ("ahrefs", "key", "short"),
            ("ahrefs", "key", "<script>alert(1)</script>"),
            (
                "clearbit",
                "publishableKey",
                "sk_0123456789abcdef0123456789abcdef",
            ),
            ("databuddy", "clientId", "not an id"),
            ("heap", "envId", "YOUR_APP_ID"),
            ("hightouch", "writeKey", "key with spaces!"),
            (
                "hightouch",
                "apiHost",
                "https://us-east-1.hightouch-events.com",
            ),
            ("logrocket", "appId", "herodevs-website"),
            ("logrocket", "appId", "org/app/extra"),
            ("pirsch", "identificationCode", "too-short"),
            ("promptwatch", "projectId", "project-1"),
            ("rudderstack", "writeKey", "YOUR_WRITE_KEY"),
            (
                "rudderstack",
                "dataPlaneUrl",
                "http://examplecorp.dataplane.rudderstack.com",
            ),
            ("rybbit", "siteId", "site-1"),
            ("crisp", "websiteId", "crisp-123"),
            ("intercom", "appId", "abc"),
        ];
        for (slug, key, value) in bad {
            assert!(!accepts(slug, key, value), "{slug}.{key} accepts {value}");
        }
    }
}
