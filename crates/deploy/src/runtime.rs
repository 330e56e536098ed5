//! The c15t runtime bundle and the modules a managed deploy uploads (being written).
