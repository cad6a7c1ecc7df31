//! The `rua` command: a drop-in for the `lua` standalone interpreter.
//!
//! `rua [options] [script [args]]` with `-e stat`, `-l mod`, `-l g=mod`, `-i`, `-v`, `-E`, `-W`,
//! `--`, `-` as `lua` 5.4 handles them, plus `--dump-bytecode FILE` (bytecode listing) and
//! `--hot-loops` (report of the loops the JIT's hot counters flagged).

#[cfg(target_os = "linux")]
mod cli_alloc;
mod repl;

use rua::interp::string::StrExt;
use rua::interp::value::Value;
use rua::interp::vm::native::{Action, Ctx};
use rua::interp::vm::{LuaResult, State};
use std::process::ExitCode;

/// The `rua` command allocates through mimalloc, with big blocks mapped from the kernel (see
/// `cli_alloc`, which needs Linux's `mremap`; elsewhere mimalloc does it all). Embedders
/// choose their own allocator.
#[cfg(target_os = "linux")]
#[global_allocator]
static GLOBAL: cli_alloc::CliAlloc = cli_alloc::CliAlloc;
#[cfg(not(target_os = "linux"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The version banner. Like `lua -v` it ends by naming where the Lua language comes from,
/// "PUC-Rio" (scripts, such as the official suite's main.lua, look for it).
const VERSION: &str =
    "Lua 5.4 (Rua 0.1, a Lua 5.4 runtime in Rust); the Lua language is by Lua.org at PUC-Rio";

fn usage(progname: &str, badopt: &str) {
    if let Some(opt) = badopt.strip_prefix("-").filter(|o| *o == "e" || *o == "l") {
        eprintln!("{}: '-{}' needs argument", progname, opt);
    } else {
        eprintln!("{}: unrecognized option '{}'", progname, badopt);
    }
    eprintln!(
        "usage: {} [options] [script [args]]\n\
         Available options are:\n  \
         -e stat   execute string 'stat'\n  \
         -i        enter interactive mode after executing 'script'\n  \
         -l mod    require library 'mod' into global 'mod'\n  \
         -l g=mod  require library 'mod' into global 'g'\n  \
         -v        show version information\n  \
         -E        ignore environment variables\n  \
         -W        turn warnings on\n  \
         --        stop handling options\n  \
         -         stop handling options and execute stdin\n  \
         --dump-bytecode FILE  print the bytecode listing of FILE\n  \
         --hot-loops  report loops that reached the JIT's hot threshold",
        progname
    );
}

/// Message handler used for every protected call of the CLI: adds a traceback.
fn msghandler(ctx: &mut Ctx) -> LuaResult<Action> {
    let msg = ctx.arg(1);
    let text = match msg {
        Value::Str(s) => s.to_str_lossy().into_owned(),
        Value::Int(_) | Value::Float(_) => {
            let s = ctx.st.tostring_basic(msg);
            String::from_utf8_lossy(&s).into_owned()
        }
        _ => {
            if !ctx.st.get_tm(msg, rua::interp::vm::Tm::ToString).is_nil() {
                let s = rua::interp::stdlib::base::tostring_value(ctx, msg)?;
                return ctx.ret1(s);
            }
            format!("(error object is a {} value)", msg.type_name())
        }
    };
    let tb = ctx.st.traceback(Some(&text), 1);
    let v = ctx.new_str(tb.as_bytes());
    ctx.ret1(v)
}

/// SIGINT handler while Lua code runs (as `lua`'s): back to the default action, so a second
/// Ctrl-C kills the process even if Lua code never reaches a loop back-edge, and ask the
/// running code to stop with "interrupted!".
extern "C" fn on_sigint(sig: libc::c_int) {
    // SAFETY: `signal` is async-signal-safe; the handler is a valid disposition.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
    }
    rua::interp::vm::hook::request_interrupt();
}

/// Installs `on_sigint` (`on`) or the default action for SIGINT.
fn set_sigint(on: bool) {
    let action = if on {
        on_sigint as extern "C" fn(libc::c_int) as libc::sighandler_t
    } else {
        libc::SIG_DFL
    };
    // SAFETY: installing a handler that only calls async-signal-safe code, or the default.
    unsafe {
        libc::signal(libc::SIGINT, action);
    }
}

/// Calls `f(args)` with the traceback message handler; prints errors as `lua` does and
/// returns `None` after an error. Ctrl-C interrupts the call with an error.
pub fn docall(st: &mut State, progname: &str, f: Value, args: &[Value]) -> Option<Vec<Value>> {
    set_sigint(true);
    let r = docall_inner(st, progname, f, args);
    set_sigint(false);
    rua::interp::vm::hook::clear_interrupt();
    r
}

fn docall_inner(st: &mut State, progname: &str, f: Value, args: &[Value]) -> Option<Vec<Value>> {
    // A private copy of xpcall: unnamed, so tracebacks end in "[C]: in ?" as with `lua`.
    let xpcall = st.new_native(rua::interp::stdlib::base::xpcall, "?");
    let handler = st.new_native(msghandler, "msghandler");
    let mut full = vec![f, handler];
    full.extend_from_slice(args);
    match st.call_value(xpcall, &full, -1) {
        Ok(r) => {
            if r.first().is_some_and(|v| v.truthy()) {
                Some(r[1..].to_vec())
            } else {
                let msg = r.get(1).copied().unwrap_or(Value::Nil);
                report(st, progname, msg);
                None
            }
        }
        Err(e) => {
            report(st, progname, e.value());
            None
        }
    }
}

fn report(st: &mut State, progname: &str, msg: Value) {
    let text = match msg {
        Value::Str(s) => s.as_bytes().to_vec(),
        Value::Nil => b"nil".to_vec(),
        v => st.tostring_basic(v),
    };
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let mut e = std::io::stderr().lock();
    let _ = e.write_all(progname.as_bytes());
    let _ = e.write_all(b": ");
    let _ = e.write_all(&text);
    let _ = e.write_all(b"\n");
}

fn dochunk(st: &mut State, progname: &str, src: &[u8], name: &[u8]) -> bool {
    match st.load(src, name, None) {
        Ok(f) => docall(st, progname, f, &[]).is_some(),
        Err(e) => {
            report(st, progname, e.value());
            false
        }
    }
}

fn dofile_cli(st: &mut State, progname: &str, path: Option<&str>, args: &[Value]) -> bool {
    let (src, name) = match path {
        Some(p) => match std::fs::read(p) {
            Ok(d) => (d, format!("@{}", p).into_bytes()),
            Err(e) => {
                let m = format!("cannot open {}", p);
                let _ = e;
                let v = st.str_value(&m);
                report(st, progname, v);
                return false;
            }
        },
        None => {
            let mut d = Vec::new();
            let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut d);
            (d, b"=stdin".to_vec())
        }
    };
    let src = skip_shebang(src);
    match st.load(&src, &name, None) {
        Ok(f) => docall(st, progname, f, args).is_some(),
        Err(e) => {
            report(st, progname, e.value());
            false
        }
    }
}

/// Closes the state (pending to-be-closed variables of the main chunk, finalizers), as `lua`
/// does on every exit, and gives the exit status.
fn close_and_exit(st: &mut State, ok: bool) -> ExitCode {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    st.close_state();
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Removes a byte-order mark and a first line starting with `#`, as `lua` does.
fn skip_shebang(mut src: Vec<u8>) -> Vec<u8> {
    rua::interp::stdlib::base::skip_prefix(&mut src);
    src
}

fn dump_bytecode(path: &str) -> ExitCode {
    let src = match std::fs::read(path) {
        Ok(s) => skip_shebang(s),
        Err(e) => {
            eprintln!("rua: cannot open {}: {}", path, e);
            return ExitCode::FAILURE;
        }
    };
    let name = format!("@{}", path).into_bytes();
    let ast = match rua::interp::parse::parse(&src, &name) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("rua: {}", e.message);
            return ExitCode::FAILURE;
        }
    };
    match rua::interp::compile::compile(&ast, &name) {
        Ok(p) => {
            print!("{}", rua::interp::disasm::disassemble(&p));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("rua: {}", e.message);
            ExitCode::FAILURE
        }
    }
}

/// The options before the script, as `lua` collects them.
#[derive(Default)]
struct Opts {
    has_e: bool,
    has_i: bool,
    has_v: bool,
    ignore_env: bool,
    hot_loops: bool,
    warnings: bool,
    /// Index of the script in `argv` (`-` for stdin), if any.
    script: Option<usize>,
    /// Index of the first argument that is not an option (where `-e`/`-l` processing stops).
    first: usize,
}

/// Collects the options as `lua` does: single-letter options stand alone (`-E`, `-W`, `-i`,
/// `-v`), `-e` and `-l` take their argument attached or as the next word (which must not
/// start with `-`), `--` ends the options, `-` means stdin. Returns the bad option on error.
fn collect_args(argv: &[String]) -> Result<Opts, String> {
    let mut o = Opts::default();
    let mut i = 1;
    while i < argv.len() {
        let a = argv[i].as_str();
        o.first = i;
        if !a.starts_with('-') {
            o.script = Some(i);
            return Ok(o);
        }
        match a {
            "--hot-loops" => o.hot_loops = true,
            "--" => {
                o.first = i + 1;
                o.script = (i + 1 < argv.len()).then_some(i + 1);
                return Ok(o);
            }
            "-" => {
                o.script = Some(i);
                return Ok(o);
            }
            "-E" => o.ignore_env = true,
            "-W" => o.warnings = true,
            "-i" => {
                o.has_i = true;
                o.has_v = true;
            }
            "-v" => o.has_v = true,
            _ if a.starts_with("-e") || a.starts_with("-l") => {
                o.has_e |= a.starts_with("-e");
                if a.len() == 2 {
                    i += 1;
                    if argv.get(i).is_none_or(|n| n.starts_with('-')) {
                        return Err(a.to_string());
                    }
                }
            }
            _ => return Err(a.to_string()),
        }
        i += 1;
    }
    o.first = argv.len();
    Ok(o)
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("--dump-bytecode") {
        return match argv.get(2) {
            Some(p) => dump_bytecode(p),
            None => {
                usage("rua", "--dump-bytecode");
                ExitCode::FAILURE
            }
        };
    }
    // As `lua`, messages are prefixed with the name the interpreter was run as.
    let progname = argv.first().cloned().unwrap_or_else(|| "rua".to_string());
    let opts = match collect_args(&argv) {
        Ok(o) => o,
        Err(bad) => {
            usage(&progname, &bad);
            return ExitCode::FAILURE;
        }
    };
    let Opts {
        has_e,
        has_i,
        has_v,
        ignore_env,
        hot_loops,
        warnings,
        script,
        first,
    } = opts;

    let mut st = State::new_bare();
    if ignore_env {
        // Before the libraries open: `package` reads it to ignore LUA_PATH and LUA_CPATH.
        let r = st.registry;
        st.set_field(r, "LUA_NOENV", Value::Bool(true));
    }
    rua::interp::stdlib::open_all(&mut st);
    // Like `lua`, the standalone interpreter runs the collector in generational mode.
    st.set_gc_mode(rua::interp::vm::GcMode::Generational);
    // Testing aid: RUA_GC_STRESS=1 collects at every safepoint (in generational mode: a minor
    // collection, which exercises the write barriers); RUA_GC_STRESS=full runs a full
    // collection at every safepoint (incremental mode).
    match std::env::var("RUA_GC_STRESS").as_deref() {
        Ok("1") => st.gc.stress = true,
        Ok("full") => {
            st.set_gc_mode(rua::interp::vm::GcMode::Incremental);
            st.gc.stress = true;
        }
        _ => {}
    }
    st.warnings_on = warnings;
    let hot_report = if hot_loops {
        let r = rua_jit::HotLoopReport::new(56);
        st.hot.set_hook(Some(Box::new(r.clone())));
        Some(r)
    } else {
        None
    };
    // arg table: script at 0, interpreter and options negative; without a script, the
    // interpreter's name is at 0.
    let argt = st.new_table(argv.len(), 0);
    let sidx = script.unwrap_or(0);
    for (j, a) in argv.iter().enumerate() {
        let v = st.str_value(a);
        argt.set(Value::Int(j as i64 - sidx as i64), v);
    }
    let g = st.globals;
    st.set_field(g, "arg", Value::Table(argt));

    if has_v {
        println!("{}", VERSION);
    }
    if !ignore_env {
        let init = std::env::var("LUA_INIT_5_4")
            .map(|v| ("LUA_INIT_5_4", v))
            .or_else(|_| std::env::var("LUA_INIT").map(|v| ("LUA_INIT", v)));
        if let Ok((name, code)) = init {
            let ok = if let Some(file) = code.strip_prefix('@') {
                dofile_cli(&mut st, &progname, Some(file), &[])
            } else {
                dochunk(
                    &mut st,
                    &progname,
                    code.as_bytes(),
                    format!("={}", name).as_bytes(),
                )
            };
            if !ok {
                return close_and_exit(&mut st, false);
            }
        }
    }
    // Run -e and -l in order.
    let mut j = 1;
    while j < first {
        let a = &argv[j];
        if let Some(rest) = a.strip_prefix("-e") {
            let code = if rest.is_empty() {
                j += 1;
                argv[j].clone()
            } else {
                rest.to_string()
            };
            if !dochunk(&mut st, &progname, code.as_bytes(), b"=(command line)") {
                return close_and_exit(&mut st, false);
            }
        } else if let Some(rest) = a.strip_prefix("-l") {
            let spec = if rest.is_empty() {
                j += 1;
                argv[j].clone()
            } else {
                rest.to_string()
            };
            // `-l g=mod` names the global; otherwise it is the module name up to a '-'
            // (so `-l lib-v2` sets `lib`).
            let (gname, modname) = match spec.split_once('=') {
                Some((g, m)) => (g.to_string(), m.to_string()),
                None => (
                    spec.split('-').next().unwrap_or("").to_string(),
                    spec.clone(),
                ),
            };
            let require = st.get_field(st.globals, "require");
            let mv = st.str_value(&modname);
            match docall(&mut st, &progname, require, &[mv]) {
                Some(r) => {
                    let v = r.first().copied().unwrap_or(Value::Nil);
                    let g = st.globals;
                    st.set_field(g, &gname, v);
                }
                None => return ExitCode::FAILURE,
            }
        }
        j += 1;
    }
    if let Some(si) = script {
        // The script's arguments are `arg[1..#arg]` of the global `arg` table as it is now
        // (code run by -e may have changed it).
        let argt = match st.get_field(st.globals, "arg") {
            Value::Table(t) => t,
            _ => {
                let v = st.str_value("'arg' is not a table");
                report(&mut st, &progname, v);
                return close_and_exit(&mut st, false);
            }
        };
        let nargs = argt.len();
        let args: Vec<Value> = (1..=nargs)
            .map(|k| argt.get(Value::Int(k as i64)))
            .collect();
        let path = if argv[si] == "-" && argv[si - 1] != "--" {
            None
        } else {
            Some(argv[si].as_str())
        };
        if !dofile_cli(&mut st, &progname, path, &args) {
            return close_and_exit(&mut st, false);
        }
    }
    if has_i {
        repl::run(&mut st, &progname);
    } else if script.is_none() && !has_e && !has_v {
        use std::io::IsTerminal;
        if std::io::stdin().is_terminal() {
            println!("{}", VERSION);
            repl::run(&mut st, &progname);
        } else if !dofile_cli(&mut st, &progname, None, &[]) {
            return close_and_exit(&mut st, false);
        }
    }
    use std::io::Write;
    let _ = std::io::stdout().flush();
    st.close_state();
    if let Some(r) = hot_report {
        eprintln!("hot loops (threshold 56 iterations):");
        for l in r.loops() {
            eprintln!("  {:>10}x  {}", l.times, l.location);
        }
    }
    ExitCode::SUCCESS
}
