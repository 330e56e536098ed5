//! Prints the API's OpenAPI document as committed in `docs/openapi.json`; `cargo xtask openapi`
//! writes or checks that file with it.

// Printing the document is this program's whole job.
#![allow(clippy::print_stdout)]

fn main() {
    print!("{}", c15t_api::openapi_json());
}
