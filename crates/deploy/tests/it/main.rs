//! Integration tests of `c15t-deploy`: releases, the file deployer and archives.

mod archive;
mod file;
mod release;
mod support;
