//! The `rua` command behaves like `lua`: options, `arg`, exit codes, error reports with
//! tracebacks. Where `lua5.4` is installed, outputs are compared with it (program names
//! normalised).

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn rua(args: &[&str], stdin: &str) -> Output {
    run(env!("CARGO_BIN_EXE_rua"), args, stdin)
}

/// Runs `bin` with `argv[0]` set to its bare name (`rua`, `lua5.4`): like `lua`, the command
/// prefixes its messages with `argv[0]`.
fn run(bin: &str, args: &[&str], stdin: &str) -> Output {
    run_env(bin, args, stdin, &[])
}

fn run_env(bin: &str, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Output {
    use std::os::unix::process::CommandExt;
    let name = std::path::Path::new(bin)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(bin)
        .to_string();
    let mut child = Command::new(bin)
        .arg0(name)
        .args(args)
        .envs(env.iter().copied())
        .env_remove("LUA_INIT")
        .env_remove("LUA_INIT_5_4")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs the same command under lua5.4 (if installed) and checks rua matches it.
fn same_as_lua(args: &[&str], stdin: &str) {
    let ours = rua(args, stdin);
    let Ok(theirs) = Command::new("lua5.4").arg("-v").output() else {
        return;
    };
    if !theirs.status.success() {
        return;
    }
    let theirs = run("lua5.4", args, stdin);
    assert_eq!(
        text(&ours.stdout),
        text(&theirs.stdout),
        "stdout of {:?}",
        args
    );
    assert_eq!(
        text(&ours.stderr).replace("rua:", "lua5.4:"),
        text(&theirs.stderr),
        "stderr of {:?}",
        args
    );
    assert_eq!(
        ours.status.code(),
        theirs.status.code(),
        "status of {:?}",
        args
    );
}

#[test]
fn execute_string_and_exit_status() {
    let o = rua(&["-e", "print(1 + 1)"], "");
    assert_eq!(text(&o.stdout), "2\n");
    assert!(o.status.success());
    same_as_lua(&["-e", "print(1 + 1)", "-e", "x = 3", "-e", "print(x)"], "");
}

#[test]
fn runtime_error_reports_message_and_traceback() {
    let o = rua(&["-e", "local t = nil; print(t.x)"], "");
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.starts_with("rua: (command line):1: attempt to index a nil value (local 't')"),
        "{}",
        err
    );
    assert!(err.contains("stack traceback:"), "{}", err);
    same_as_lua(&["-e", "local t = nil; print(t.x)"], "");
    same_as_lua(&["-e", "error('boom')"], "");
    same_as_lua(&["-e", "error({})"], "");
    same_as_lua(
        &[
            "-e",
            "local function f() error('deep') end local function g() f() end g()",
        ],
        "",
    );
}

#[test]
fn syntax_error_is_reported() {
    same_as_lua(&["-e", "x = = 1"], "");
    let o = rua(&["-e", "x = = 1"], "");
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn script_arguments_and_arg_table() {
    let dir = std::env::temp_dir().join(format!("rua-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("args.lua");
    std::fs::write(
        &script,
        "#!/usr/bin/env lua\nprint(select('#', ...), ...)\nprint(arg[0] ~= nil, arg[1], arg[2], arg[-1] ~= nil)\n",
    )
    .unwrap();
    let s = script.to_str().unwrap();
    let o = rua(&[s, "a", "b"], "");
    assert_eq!(text(&o.stdout), "2\ta\tb\ntrue\ta\tb\ttrue\n");
    same_as_lua(&[s, "a", "b"], "");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn program_from_stdin() {
    let o = rua(&["-"], "print('from stdin')");
    assert_eq!(text(&o.stdout), "from stdin\n");
    same_as_lua(&["-"], "print(#arg, ...)");
}

#[test]
fn missing_script_and_bad_option() {
    let o = rua(&["/nonexistent/file.lua"], "");
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("cannot open /nonexistent/file.lua"));
    let o = rua(&["-z"], "");
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("unrecognized option '-z'"));
    let o = rua(&["-e"], "");
    assert!(text(&o.stderr).contains("'-e' needs argument"));
}

#[test]
fn version_flag() {
    let o = rua(&["-v"], "");
    assert!(text(&o.stdout).starts_with("Lua 5.4"));
    // The banner ends with the Lua copyright line (as `lua -v`; scripts look for it).
    let o = rua(&["-v", "-e", "print'hello'"], "");
    assert!(
        text(&o.stdout).ends_with("PUC-Rio\nhello\n"),
        "{}",
        text(&o.stdout)
    );
}

#[test]
fn dump_bytecode_lists_instructions() {
    let dir = std::env::temp_dir().join(format!("rua-dump-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("d.lua");
    std::fs::write(&script, "local x = 1\nreturn x + 2\n").unwrap();
    let o = rua(&["--dump-bytecode", script.to_str().unwrap()], "");
    let out = text(&o.stdout);
    assert!(out.contains("ADDI"), "{}", out);
    assert!(out.contains("RETURN"), "{}", out);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let src = format!("return {}1{}", "(".repeat(1000), ")".repeat(1000));
    let o = rua(&["-e", &src], "");
    assert_eq!(o.status.code(), Some(1));
    assert!(!text(&o.stderr).is_empty());
    let o = rua(&["-e", "local function f() return f() + 1 end f()"], "");
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("stack overflow"));
}

#[test]
fn interactive_mode_prints_expressions_and_continues_lines() {
    let o = rua(
        &["-i"],
        "x = 20\n= x + 1\nfunction f()\nreturn x * 2 end\nprint(f())\n1, 'a', nil\nerror('e')\nprint('after')\n",
    );
    let out = text(&o.stdout);
    assert!(out.contains("21\n"), "{}", out);
    assert!(out.contains("40\n"), "{}", out);
    assert!(out.contains("1\ta\tnil\n"), "{}", out);
    assert!(
        out.contains("after\n"),
        "an error does not end the session: {}",
        out
    );
    assert!(
        text(&o.stderr).contains("stdin:1: e"),
        "{}",
        text(&o.stderr)
    );
}

/// Lua 5.4.7's code-generation bug (an upvalue table indexed by a key containing jumps), fixed
/// in 5.4.8; the installed lua5.4 may predate the fix, so this is checked against the value.
#[test]
fn upvalue_table_indexed_by_a_condition() {
    let o = rua(
        &[
            "-e",
            "_ENV[true] = 10 local function aux() return _ENV[1 < 2] end print(aux())",
        ],
        "",
    );
    assert_eq!(text(&o.stdout), "10\n", "{}", text(&o.stderr));
}

fn rua_env(args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Output {
    run_env(env!("CARGO_BIN_EXE_rua"), args, stdin, env)
}

/// A scratch directory for one test.
fn scratch(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("rua-cli-{}-{}", tag, std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn messages_are_prefixed_with_argv0() {
    let o = run_env(env!("CARGO_BIN_EXE_rua"), &["-e", "error('x', 0)"], "", &[]);
    assert!(
        text(&o.stderr).starts_with("rua: x\n"),
        "{}",
        text(&o.stderr)
    );
    let o = Command::new(env!("CARGO_BIN_EXE_rua"))
        .args(["-e", "error('x', 0)"])
        .output()
        .unwrap();
    let full = format!("{}: x\n", env!("CARGO_BIN_EXE_rua"));
    assert!(text(&o.stderr).starts_with(&full), "{}", text(&o.stderr));
}

#[test]
fn options_are_checked_as_lua_does() {
    for bad in ["-Ex", "-vv", "-iv", "---", "-h"] {
        let o = rua(&[bad], "");
        assert_eq!(o.status.code(), Some(1), "{}", bad);
        let want = format!("rua: unrecognized option '{}'\nusage: rua ", bad);
        assert!(text(&o.stderr).starts_with(&want), "{}", text(&o.stderr));
    }
    // An option where -e/-l expect their argument.
    let o = rua(&["-e", "-v"], "");
    assert!(text(&o.stderr).contains("'-e' needs argument"));
    let o = rua(&["-l"], "");
    assert!(text(&o.stderr).starts_with("rua: '-l' needs argument\n"));
}

#[test]
fn arg_table_without_script_and_after_dash_dash() {
    // No script: the interpreter is arg[0].
    let o = rua(&["-e", "print(arg[0], arg[-1], arg[1], #arg)"], "");
    assert_eq!(text(&o.stdout), "rua\tnil\t-e\t2\n");
    same_as_lua(&["-e", "print(#arg, arg[-1], arg[1])"], "");
    let dir = scratch("argdd");
    let script = dir.join("s.lua");
    std::fs::write(&script, "print(arg[-1], arg[-2], ..., #arg)").unwrap();
    let s = script.to_str().unwrap();
    let o = rua(&["-e ", "--", s, "a", "b"], "");
    assert_eq!(text(&o.stdout), "--\t-e \ta\t2\n");
    same_as_lua(&["-e ", "--", s, "a", "b"], "");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn script_arguments_come_from_the_global_arg() {
    let o = rua(&["-e", "arg[1] = 100", "-", "x"], "print(...)");
    assert_eq!(text(&o.stdout), "100\n");
    let o = rua(&["-e", "arg[2] = 'more'", "-", "x"], "print(...)");
    assert_eq!(text(&o.stdout), "x\tmore\n");
    let o = rua(&["-e", "arg = 1", "-"], "");
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("'arg' is not a table"));
    same_as_lua(&["-e", "arg[1] = 100", "-", "x"], "print(...)");
}

#[test]
fn ignore_env_applies_to_package_paths() {
    let env = [("LUA_PATH", "xxx"), ("LUA_CPATH", "yyy")];
    let o = rua_env(
        &["-E", "-e", "print(package.path, package.cpath)"],
        "",
        &env,
    );
    let out = text(&o.stdout);
    assert!(!out.contains("xxx") && !out.contains("yyy"), "{}", out);
    assert!(out.contains("?.lua"), "{}", out);
    let o = rua_env(&["-e", "print(package.path, package.cpath)"], "", &env);
    assert_eq!(text(&o.stdout), "xxx\tyyy\n");
}

#[test]
fn double_semicolon_in_lua_path_expands_once_without_stray_separators() {
    let default = text(&rua_env(&["-E", "-e", "io.write(package.path)"], "", &[]).stdout);
    let cases = [
        (";", ";".to_string()),
        (";;", default.clone()),
        ("a;;b", format!("a;{};b", default)),
        (";;b", format!("{};b", default)),
        ("a;;", format!("a;{}", default)),
        ("a;b;;c;;d", format!("a;b;{};c;;d", default)),
    ];
    for (p, want) in cases {
        let o = rua_env(&["-e", "io.write(package.path)"], "", &[("LUA_PATH", p)]);
        assert_eq!(text(&o.stdout), want, "LUA_PATH={}", p);
    }
}

#[test]
fn dash_l_global_name_stops_at_a_hyphen() {
    let dir = scratch("lmod");
    std::fs::write(dir.join("mod-v2.lua"), "return {id = 42}").unwrap();
    let path = format!("{}/?.lua", dir.display());
    let o = rua_env(
        &[
            "-l",
            "mod-v2",
            "-e",
            "print(mod.id, package.loaded['mod-v2'].id)",
        ],
        "",
        &[("LUA_PATH", &path)],
    );
    assert_eq!(text(&o.stdout), "42\t42\n", "{}", text(&o.stderr));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn exit_closes_the_state() {
    // os.exit(code, true) and a normal end both close pending to-be-closed variables of the
    // main chunk (with a nil error) and run finalizers.
    let prog =
        "local x <close> = setmetatable({}, {__close = function (_, e) print('x', e) end})\n\
                local y <close> = setmetatable({}, {__close = function () print('y') end})\n\
                setmetatable({}, {__gc = function () print('gc') end})\n";
    let o = rua(&["-"], &format!("{}os.exit(true, true)", prog));
    assert_eq!(text(&o.stdout), "y\nx\tnil\ngc\n");
    assert_eq!(o.status.code(), Some(0));
    let o = rua(&["-"], &format!("{}os.exit(false, true)", prog));
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(text(&o.stderr), "");
    // A finalizer that exits while the state closes: the other finalizers still run, an
    // object given __gc after closing began is not finalized, and the collector refuses.
    let o = rua(
        &["-"],
        "setmetatable({}, {__gc = function () print(1) end})\n\
         setmetatable({}, {__gc = function ()\n\
           print(2)\n\
           setmetatable({}, {__gc = function () print(3) end})\n\
           print(collectgarbage())\n\
           os.exit(0, true)\n\
         end})\n",
    );
    assert_eq!(text(&o.stdout), "2\nnil\n1\n");
}

#[test]
fn finalizer_errors_are_warnings_under_w() {
    let prog = "setmetatable({}, {__gc = function () error('XYZ', 0) end})\n\
                setmetatable({}, {__gc = function () error({}) end})\n";
    let o = rua(&["-W", "-"], prog);
    assert_eq!(
        text(&o.stderr),
        "Lua warning: error in __gc (error object is not a string)\n\
         Lua warning: error in __gc (XYZ)\n"
    );
    let o = rua(&["-"], prog);
    assert_eq!(text(&o.stderr), "");
}

#[test]
fn interactive_mode_off_a_terminal_shows_prompts_and_echoes_lines() {
    let o = rua(
        &[
            "-e",
            "local C = 0; _PROMPT = setmetatable({}, {__tostring = function () C = C + 1; return C end})",
            "-i",
        ],
        " --\na = 2\n",
    );
    let out = text(&o.stdout);
    assert!(out.ends_with("1 --\n2a = 2\n3\n"), "{}", out);
    let o = rua(
        &["-e", "_PROMPT='' _PROMPT2=''", "-i"],
        "a = [[b\nc]]\n=a\n",
    );
    assert!(text(&o.stdout).contains("b\nc\n"), "{}", text(&o.stdout));
    // End of input inside a statement is reported.
    let o = rua(&["-i"], "a.\n");
    assert!(
        text(&o.stderr).contains("near <eof>"),
        "{}",
        text(&o.stderr)
    );
    // A failing print.
    let o = rua(&["-e", "print=nil", "-i"], "10\n");
    assert!(text(&o.stderr).contains("error calling 'print'"));
}

#[test]
fn debug_debug_reads_commands_until_cont() {
    let o = rua(
        &["-e", "require'debug'.debug() print('back')"],
        "io.stderr:write(1000)\nerror('oops', 0)\ncont\nprint('not run')\n",
    );
    assert_eq!(
        text(&o.stderr),
        "lua_debug> 1000lua_debug> oops\nlua_debug> "
    );
    assert_eq!(text(&o.stdout), "back\n");
}

#[test]
fn sigint_interrupts_a_running_loop() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rua"))
        .args([
            "-e",
            "io.stdout:setvbuf('no') print(pcall(function () print(12); while true do end end))",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut first = [0u8; 3];
    std::io::Read::read_exact(&mut out, &mut first).unwrap();
    assert_eq!(&first, b"12\n");
    // SAFETY: sends a signal to our own child process.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGINT);
    }
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success());
    assert!(rest.starts_with("false\t"), "{}", rest);
    assert!(rest.contains("interrupted!"), "{}", rest);
}
