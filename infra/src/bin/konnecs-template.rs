//! Prints `template.yaml`: `cargo run -p konnecs-infra --bin konnecs-template > template.yaml`.

use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let yaml = match konnecs_infra::render() {
        Ok(yaml) => yaml,
        Err(err) => {
            eprintln!("konnecs-template: cannot render the template: {err}");
            return ExitCode::FAILURE;
        }
    };
    // write_all rather than print!: a closed pipe is an error to report, not a panic.
    if let Err(err) = std::io::stdout().lock().write_all(yaml.as_bytes()) {
        eprintln!("konnecs-template: cannot write the template: {err}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
