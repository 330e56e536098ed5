//! Per-customer quotas: how much one customer's configuration may hold.
//!
//! They bound the work every caller can cause (CLI, API, import and the admin UI all validate
//! through [`CustomerSpec::validate`](crate::CustomerSpec::validate)): the size of a config
//! stored, generated, audited and served is at most [`CONFIG_BYTES_MAX`]. A config over a limit
//! is refused with a problem naming the limit (`destinations: at most 200 destinations per
//! customer (limit DESTINATIONS_MAX), got 201`); the API answers it with 422.

/// Most destinations one customer may have.
pub const DESTINATIONS_MAX: usize = 200;
/// Most environments one customer may have.
pub const ENVIRONMENTS_MAX: usize = 20;
/// Most trusted origins one customer may have.
pub const TRUSTED_ORIGINS_MAX: usize = 100;
/// Largest string setting value, in characters (at most 8 KiB of UTF-8).
pub const SETTING_MAX: usize = 2048;
/// Largest customer config, in bytes of its JSON form (what is stored and audited; secrets are
/// references there, so their values do not count).
pub const CONFIG_BYTES_MAX: usize = 256 * 1024;

/// Counts the bytes written through it.
#[derive(Default)]
pub(crate) struct ByteCount(pub(crate) usize);

impl std::io::Write for ByteCount {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
