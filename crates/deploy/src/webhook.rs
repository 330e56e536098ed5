//! The Standard Webhooks notifier (being written).
