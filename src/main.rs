//! The `rua` command: a drop-in for the `lua` standalone interpreter.
//!
//! `rua [options] [script [args]]` with `-e stat`, `-l mod`, `-l g=mod`, `-i`, `-v`, `-E`, `-W`,
//! `--`, `-` as `lua` 5.4 handles them, plus `--dump-bytecode FILE` (bytecode listing) and
//! `--hot-loops` (report of the loops the JIT's hot counters flagged).

#[cfg(target_os = "linux")]
mod cli_alloc;
mod repl;

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

const VERSION: &str = "Lua 5.4 (Rua 0.1, a Lua 5.4 runtime in Rust)";

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

/// Calls `f(args)` with the traceback message handler; prints errors as `lua` does and
/// returns `None` after an error.
pub fn docall(st: &mut State, progname: &str, f: Value, args: &[Value]) -> Option<Vec<Value>> {
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

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    let progname = "rua".to_string();
    // Collect options (up to the script name).
    let mut has_e = false;
    let mut has_i = false;
    let mut has_v = false;
    let mut ignore_env = false;
    let mut hot_loops = false;
    let mut warnings = false;
    let mut script: Option<usize> = None;
    let mut i = 1;
    while i < argv.len() {
        let a = &argv[i];
        if !a.starts_with('-') {
            script = Some(i);
            break;
        }
        match a.as_str() {
            "--" => {
                if i + 1 < argv.len() {
                    script = Some(i + 1);
                }
                break;
            }
            "-" => {
                script = Some(i);
                break;
            }
            "-E" => ignore_env = true,
            "-W" => warnings = true,
            "-i" => {
                has_i = true;
                has_v = true;
            }
            "-v" => has_v = true,
            "--hot-loops" => hot_loops = true,
            "--dump-bytecode" => {
                return match argv.get(i + 1) {
                    Some(p) => dump_bytecode(p),
                    None => {
                        usage(&progname, "--dump-bytecode");
                        ExitCode::FAILURE
                    }
                };
            }
            _ if a.starts_with("-e") => {
                has_e = true;
                if a.len() == 2 {
                    i += 1;
                    if i >= argv.len() {
                        usage(&progname, "-e");
                        return ExitCode::FAILURE;
                    }
                }
            }
            _ if a.starts_with("-l") => {
                if a.len() == 2 {
                    i += 1;
                    if i >= argv.len() {
                        usage(&progname, "-l");
                        return ExitCode::FAILURE;
                    }
                }
            }
            _ => {
                usage(&progname, a);
                return ExitCode::FAILURE;
            }
        }
        i += 1;
    }

    let mut st = State::new_bare();
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
    let report = if hot_loops {
        let r = rua_jit::HotLoopReport::new(56);
        st.hot.set_hook(Some(Box::new(r.clone())));
        Some(r)
    } else {
        None
    };
    if ignore_env {
        let r = st.registry;
        st.set_field(r, "LUA_NOENV", Value::Bool(true));
    }
    // arg table: script at 0, interpreter and options negative.
    let argt = st.new_table(argv.len(), 0);
    let sidx = script.unwrap_or(argv.len());
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
                return ExitCode::FAILURE;
            }
        }
    }
    // Run -e and -l in order.
    let mut j = 1;
    let end = script.unwrap_or(argv.len());
    while j < end {
        let a = &argv[j];
        if a == "--" {
            break;
        }
        if let Some(rest) = a.strip_prefix("-e") {
            let code = if rest.is_empty() {
                j += 1;
                argv[j].clone()
            } else {
                rest.to_string()
            };
            if !dochunk(&mut st, &progname, code.as_bytes(), b"=(command line)") {
                return ExitCode::FAILURE;
            }
        } else if let Some(rest) = a.strip_prefix("-l") {
            let spec = if rest.is_empty() {
                j += 1;
                argv[j].clone()
            } else {
                rest.to_string()
            };
            let (gname, modname) = match spec.split_once('=') {
                Some((g, m)) => (g.to_string(), m.to_string()),
                None => (spec.clone(), spec.clone()),
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
        let args: Vec<Value> = argv[si + 1..].iter().map(|a| st.str_value(a)).collect();
        let path = if argv[si] == "-" && (si == 0 || argv[si - 1] != "--") {
            None
        } else {
            Some(argv[si].as_str())
        };
        if !dofile_cli(&mut st, &progname, path, &args) {
            return ExitCode::FAILURE;
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
            return ExitCode::FAILURE;
        }
    }
    use std::io::Write;
    let _ = std::io::stdout().flush();
    st.finalize_all();
    if let Some(r) = report {
        eprintln!("hot loops (threshold 56 iterations):");
        for l in r.loops() {
            eprintln!("  {:>10}x  {}", l.times, l.location);
        }
    }
    ExitCode::SUCCESS
}
