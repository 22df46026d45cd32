//! Writes `template.yaml` and `infra/stacks/*.yaml` from the route catalogue:
//! `cargo run -p konnecs-infra --bin konnecs-template [OUT_DIR]` (default:
//! this repository). A stack file the catalogue no longer produces is removed.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn write_all(root: &Path) -> Result<(), String> {
    let rendered = konnecs_infra::render_all(konnecs::catalogue::entries())
        .map_err(|err| format!("cannot render the templates: {err}"))?;
    let stacks_dir = root.join(konnecs_infra::STACKS_DIR);
    std::fs::create_dir_all(&stacks_dir).map_err(|err| format!("cannot create {}: {err}", stacks_dir.display()))?;
    for (path, yaml) in &rendered {
        let target = root.join(path);
        std::fs::write(&target, yaml).map_err(|err| format!("cannot write {}: {err}", target.display()))?;
        println!("konnecs-template: wrote {path}");
    }
    let listing =
        std::fs::read_dir(&stacks_dir).map_err(|err| format!("cannot list {}: {err}", stacks_dir.display()))?;
    for file in listing.flatten() {
        let name = file.file_name().to_string_lossy().into_owned();
        let path = format!("{}/{name}", konnecs_infra::STACKS_DIR);
        if name.ends_with(".yaml") && !rendered.iter().any(|(generated, _)| *generated == path) {
            std::fs::remove_file(file.path()).map_err(|err| format!("cannot remove {path}: {err}"))?;
            println!("konnecs-template: removed {path} (no longer generated)");
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let root = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".."));
    match write_all(&root) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("konnecs-template: {err}");
            ExitCode::FAILURE
        }
    }
}
