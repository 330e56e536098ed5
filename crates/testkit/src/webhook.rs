//! The webhook receiver (being written).
