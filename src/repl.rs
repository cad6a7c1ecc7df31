//! The interactive loop of `rua -i` / `rua` on a terminal: line editing and history
//! (rustyline), continuation of incomplete statements, `=expr` and bare expressions printed
//! as `lua` 5.4 does.

use rua::interp::value::Value;
use rua::interp::vm::State;
use rustyline::error::ReadlineError;

/// Is this syntax error caused by input ending too early (so more lines may complete it)?
fn incomplete(msg: &str) -> bool {
    msg.ends_with("<eof>")
}

fn prompt(st: &mut State, name: &str, default: &str) -> String {
    match st.get_field(st.globals, name) {
        Value::Str(s) => s.to_str_lossy().into_owned(),
        Value::Int(_) | Value::Float(_) => {
            let v = st.get_field(st.globals, name);
            String::from_utf8_lossy(&st.tostring_basic(v)).into_owned()
        }
        _ => default.to_string(),
    }
}

/// Compiles a line: first as `return <line>` (so expressions print), then as a statement,
/// reading continuation lines while the input is incomplete.
fn load_input(
    st: &mut State,
    ed: &mut rustyline::DefaultEditor,
    first: String,
) -> Option<Result<Value, Value>> {
    let first = match first.strip_prefix('=') {
        Some(rest) => format!("return {}", rest),
        None => first,
    };
    let ret = format!("return {}", first);
    if let Ok(f) = st.load(ret.as_bytes(), b"=stdin", None) {
        let _ = ed.add_history_entry(first.as_str());
        return Some(Ok(f));
    }
    let mut buf = first;
    loop {
        match st.load(buf.as_bytes(), b"=stdin", None) {
            Ok(f) => {
                let _ = ed.add_history_entry(buf.as_str());
                return Some(Ok(f));
            }
            Err(e) => {
                let msg = e.message();
                if !incomplete(&msg) {
                    let _ = ed.add_history_entry(buf.as_str());
                    return Some(Err(e.value()));
                }
            }
        }
        let p2 = prompt(st, "_PROMPT2", ">> ");
        match ed.readline(&p2) {
            Ok(more) => {
                buf.push('\n');
                buf.push_str(&more);
            }
            Err(_) => return None,
        }
    }
}

/// Runs the read-eval-print loop until end of input.
pub fn run(st: &mut State, progname: &str) {
    let mut ed = match rustyline::DefaultEditor::new() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("{}: cannot start line editor: {}", progname, e);
            return;
        }
    };
    loop {
        let p = prompt(st, "_PROMPT", "> ");
        let line = match ed.readline(&p) {
            Ok(l) => l,
            Err(ReadlineError::Interrupted) => continue,
            Err(_) => break,
        };
        match load_input(st, &mut ed, line) {
            None => break,
            Some(Err(msg)) => {
                let text = match msg {
                    Value::Str(s) => s.to_str_lossy().into_owned(),
                    _ => "?".into(),
                };
                eprintln!("{}: {}", progname, text);
            }
            Some(Ok(f)) => {
                if let Some(results) = crate::docall(st, progname, f, &[]) {
                    if !results.is_empty() {
                        let print = st.get_field(st.globals, "print");
                        if let Err(e) = st.call_value(print, &results, 0) {
                            eprintln!("{}: error calling 'print' ({})", progname, e.message());
                        }
                    }
                }
            }
        }
    }
    println!();
}
