//! The fake Cloudflare Workers API (being written).
