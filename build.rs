//! Records the git commit for the `tessera_build_info` metric: the
//! `TESSERA_GIT_SHA` variable if set (container builds have no .git),
//! else `git rev-parse`, else `unknown`. Never fails the build.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (out.status.success() && !text.is_empty()).then(|| text.to_owned())
}

fn main() {
    println!("cargo:rerun-if-env-changed=TESSERA_GIT_SHA");
    let sha = std::env::var("TESSERA_GIT_SHA")
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| {
            // Rebuild when the checked-out commit moves.
            for path in ["HEAD", "logs/HEAD"] {
                if let Some(p) = git(&["rev-parse", "--git-path", path])
                    && std::path::Path::new(&p).exists()
                {
                    println!("cargo:rerun-if-changed={p}");
                }
            }
            git(&["rev-parse", "--short=12", "HEAD"])
        })
        .unwrap_or_else(|| "unknown".into());
    let sane: String = sha
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.')
        .take(64)
        .collect();
    let sane = if sane.is_empty() {
        "unknown".into()
    } else {
        sane
    };
    println!("cargo:rustc-env=TESSERA_GIT_SHA={sane}");
}
