//! The Cloudflare Workers deployer (being written).
