//! Runs every benchmark program in `benches/lua/` at the small size of its
//! `-- callgrind-arg: N` header line under `rua`, and compares the checksum line with
//! `lua5.4`'s where it is installed. This keeps the benchmark suite honest (a benchmark whose
//! checksum rua gets wrong measures nothing) without timing anything.

use std::path::{Path, PathBuf};
use std::process::Command;

fn programs() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/lua");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("benches/lua directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "lua"))
        .collect();
    v.sort();
    v
}

/// The argument on the program's `-- callgrind-arg: N` line (scripts/bench relies on it).
fn small_arg(src: &str) -> Option<String> {
    src.lines()
        .take_while(|l| l.starts_with("--"))
        .find_map(|l| l.strip_prefix("-- callgrind-arg:"))
        .and_then(|rest| rest.split_whitespace().next())
        .map(str::to_string)
}

fn run(interp: &str, program: &Path, arg: &str) -> std::process::Output {
    Command::new(interp)
        .arg(program.file_name().unwrap())
        .arg(arg)
        .current_dir(program.parent().unwrap())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {interp}: {e}"))
}

fn have_lua54() -> bool {
    let found = Command::new("lua5.4")
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found && std::env::var("RUA_REQUIRE_LUA").is_ok_and(|v| v == "1") {
        panic!("lua5.4 is required (RUA_REQUIRE_LUA=1) but not found");
    }
    found
}

#[test]
fn benchmark_programs_print_puc_checksums() {
    let rua = env!("CARGO_BIN_EXE_rua");
    let reference = have_lua54();
    let all = programs();
    assert!(all.len() >= 15, "expected at least 15 benchmark programs");
    let mut failures = Vec::new();
    for program in &all {
        let name = program.file_name().unwrap().to_string_lossy().into_owned();
        let src = std::fs::read_to_string(program).unwrap();
        let Some(arg) = small_arg(&src) else {
            failures.push(format!("{name}: no `-- callgrind-arg: N` header line"));
            continue;
        };
        let got = run(rua, program, &arg);
        if !got.status.success() {
            failures.push(format!(
                "{name}: rua failed: {}",
                String::from_utf8_lossy(&got.stderr)
            ));
            continue;
        }
        if got.stdout.iter().filter(|&&b| b == b'\n').count() != 1 {
            failures.push(format!("{name}: output is not one checksum line"));
        }
        if reference {
            let expected = run("lua5.4", program, &arg);
            if expected.stdout != got.stdout {
                failures.push(format!(
                    "{name}: lua5.4 printed {:?}, rua printed {:?}",
                    String::from_utf8_lossy(&expected.stdout),
                    String::from_utf8_lossy(&got.stdout)
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `scripts/bench --self-test`: the runner's docs rewriting, table and chart, without timing.
#[test]
fn bench_script_self_test() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/bench");
    let out = match Command::new("python3")
        .arg(&script)
        .arg("--self-test")
        .output()
    {
        Ok(out) => out,
        Err(e) => {
            eprintln!("note: python3 not available ({e}); scripts/bench not checked");
            return;
        }
    };
    assert!(
        out.status.success(),
        "scripts/bench --self-test failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
