//! `cargo run -p embed-generator -- <dir>`: writes the example customer's production worker
//! project into `<dir>` (created, or updated in place keeping `node_modules/` and `.dev.vars`).

use std::error::Error;
use std::path::PathBuf;
use std::process::ExitCode;

use c15t_model::Environment;

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        return fail("usage: embed-generator <output directory>".into());
    };
    match run(&dir) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(error),
    }
}

fn run(dir: &std::path::Path) -> Result<(), Box<dyn Error>> {
    let config = embed_generator::customer()?;
    let project = embed_generator::generate(&config, &Environment::production(), 1)?;
    project.write_to(dir)?;
    Ok(())
}

#[allow(
    clippy::print_stderr,
    reason = "a command line program reports its failure"
)]
fn fail(error: Box<dyn Error>) -> ExitCode {
    eprintln!("embed-generator: {error}");
    ExitCode::FAILURE
}
