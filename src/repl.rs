//! The interactive loop of `rua -i` / `rua` on a terminal: line editing and history
//! (rustyline) on a terminal, plain reading otherwise; continuation of incomplete
//! statements, `=expr` and bare expressions printed as `lua` 5.4 does.

use rua::interp::string::StrExt;
use rua::interp::value::Value;
use rua::interp::vm::State;
use rustyline::error::ReadlineError;
use std::io::{BufRead, IsTerminal, Write};

/// Is this syntax error caused by input ending too early (so more lines may complete it)?
fn incomplete(msg: &str) -> bool {
    msg.ends_with("<eof>")
}

/// Where input lines come from.
enum Reader {
    /// A terminal: rustyline with history.
    Editor(Box<rustyline::DefaultEditor>),
    /// Not a terminal: the prompt goes to stdout and the line read is echoed after it, as
    /// `lua` built with readline shows it.
    Plain,
}

impl Reader {
    /// Shows `prompt` and reads one line (without its newline); `None` at end of input.
    fn readline(&mut self, prompt: &str) -> Option<String> {
        match self {
            Reader::Editor(ed) => loop {
                match ed.readline(prompt) {
                    Ok(l) => return Some(l),
                    Err(ReadlineError::Interrupted) => continue,
                    Err(_) => return None,
                }
            },
            Reader::Plain => {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(prompt.as_bytes());
                let _ = out.flush();
                let mut buf = Vec::new();
                match std::io::stdin().lock().read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => None,
                    Ok(_) => {
                        if buf.last() == Some(&b'\n') {
                            buf.pop();
                        }
                        let _ = out.write_all(&buf);
                        let _ = out.write_all(b"\n");
                        Some(String::from_utf8_lossy(&buf).into_owned())
                    }
                }
            }
        }
    }

    fn add_history(&mut self, line: &str) {
        if let Reader::Editor(ed) = self {
            let _ = ed.add_history_entry(line);
        }
    }
}

/// The prompt: global `name` converted with `tostring` (so `__tostring` applies), or
/// `default` when it is nil.
fn prompt(st: &mut State, name: &str, default: &str) -> String {
    let v = st.get_field(st.globals, name);
    if v.is_nil() {
        return default.to_string();
    }
    let tostring = st.get_field(st.globals, "tostring");
    match st.call_value(tostring, &[v], 1) {
        Ok(r) => match r.first() {
            Some(Value::Str(s)) => s.to_str_lossy().into_owned(),
            _ => default.to_string(),
        },
        Err(_) => default.to_string(),
    }
}

/// Compiles a line: first as `return <line>` (so expressions print), then as a statement,
/// reading continuation lines while the input is incomplete. At end of input inside a
/// statement, the syntax error is the result.
fn load_input(st: &mut State, rd: &mut Reader, first: String) -> Result<Value, Value> {
    let first = match first.strip_prefix('=') {
        Some(rest) => format!("return {}", rest),
        None => first,
    };
    let ret = format!("return {}", first);
    if let Ok(f) = st.load(ret.as_bytes(), b"=stdin", None) {
        rd.add_history(&first);
        return Ok(f);
    }
    let mut buf = first;
    loop {
        match st.load(buf.as_bytes(), b"=stdin", None) {
            Ok(f) => {
                rd.add_history(&buf);
                return Ok(f);
            }
            Err(e) => {
                let msg = e.message();
                if !incomplete(&msg) {
                    rd.add_history(&buf);
                    return Err(e.value());
                }
                let p2 = prompt(st, "_PROMPT2", ">> ");
                match rd.readline(&p2) {
                    Some(more) => {
                        buf.push('\n');
                        buf.push_str(&more);
                    }
                    None => return Err(e.value()),
                }
            }
        }
    }
}

/// Runs the read-eval-print loop until end of input.
pub fn run(st: &mut State, progname: &str) {
    let mut rd = if std::io::stdin().is_terminal() {
        match rustyline::DefaultEditor::new() {
            Ok(e) => Reader::Editor(Box::new(e)),
            Err(e) => {
                eprintln!("{}: cannot start line editor: {}", progname, e);
                return;
            }
        }
    } else {
        Reader::Plain
    };
    loop {
        let p = prompt(st, "_PROMPT", "> ");
        let Some(line) = rd.readline(&p) else { break };
        match load_input(st, &mut rd, line) {
            Err(msg) => {
                let text = match msg {
                    Value::Str(s) => s.to_str_lossy().into_owned(),
                    _ => "?".into(),
                };
                eprintln!("{}: {}", progname, text);
            }
            Ok(f) => {
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
