//! The io library (manual §6.8): `close flush input lines open output popen read tmpfile type
//! write`, the standard files, and the methods of file handles (`close flush lines read seek
//! setvbuf write`).
//!
//! A file handle is a full userdata whose metatable is `registry["FILE*"]` (`__name` "FILE*",
//! `__index` holding the methods, `__gc`/`__close` closing the file, `__tostring`). Its payload
//! is a [`LuaFile`]: a stream (regular file, standard stream or process pipe) with its own
//! read and write buffers, so that reads can look ahead one byte (as `read("n")` needs), and
//! writes obey `setvbuf`.
//!
//! Writes to `io.stdout` go straight to Rust's `std::io::stdout()`, the stream `print` uses, so
//! the two interleave correctly. Buffered data of open files is flushed when they are closed,
//! collected, at state close, and by `os.exit` (through [`flush_all`]).

use crate::stdlib::os::{exec_result, file_error};
use crate::stdlib::os_error_text;
use crate::stdlib::string::check_stack;
use crate::userdata::UserData;
use crate::value::Value;
use crate::vm::native::{Action, Ctx};
use crate::vm::{LuaResult, State};
use std::cell::{Cell, RefCell};
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::rc::{Rc, Weak};

/// Registry key of the file-handle metatable.
const FILEHANDLE: &str = "FILE*";
/// Registry key of the default input file.
const IO_INPUT: &str = "_IO_input";
/// Registry key of the default output file.
const IO_OUTPUT: &str = "_IO_output";
/// Default buffer size of files (and of `setvbuf` without a size).
const BUFSIZE: usize = 4096;
/// Longest numeral `read("n")` accepts (`L_MAXLENNUM`).
const MAXLENNUM: usize = 200;
/// Most formats `lines` accepts (`MAXARGLINE`).
const MAXARGLINE: usize = 250;

/// Installs the `io` table, the file-handle metatable and the standard files.
pub fn open(st: &mut State) {
    let t = st.new_table(0, 16);
    st.register(t, "close", io_close);
    st.register(t, "flush", io_flush);
    st.register(t, "input", io_input);
    st.register(t, "lines", io_lines);
    st.register(t, "open", io_open);
    st.register(t, "output", io_output);
    st.register(t, "popen", io_popen);
    st.register(t, "read", io_read);
    st.register(t, "tmpfile", io_tmpfile);
    st.register(t, "type", io_type);
    st.register(t, "write", io_write);

    let mt = st.new_table(0, 8);
    let methods = st.new_table(0, 8);
    st.register(methods, "read", f_read);
    st.register(methods, "write", f_write);
    st.register(methods, "lines", f_lines);
    st.register(methods, "flush", f_flush);
    st.register(methods, "seek", f_seek);
    st.register(methods, "close", f_close);
    st.register(methods, "setvbuf", f_setvbuf);
    st.set_field(mt, "__index", Value::Table(methods));
    st.register(mt, "__gc", f_gc);
    st.register(mt, "__close", f_gc);
    st.register(mt, "__tostring", f_tostring);
    let name = st.str_value(FILEHANDLE);
    st.set_field(mt, "__name", name);
    let reg = st.registry;
    st.set_field(reg, FILEHANDLE, Value::Table(mt));

    let stdin = match io::stdin().as_fd().try_clone_to_owned() {
        Ok(fd) => Stream::File(File::from(fd)),
        Err(_) => Stream::Bad,
    };
    let stdin = new_file(st, FileInner::new(stdin, Kind::Std, true, false));
    let stdout = new_file(st, FileInner::new(Stream::Stdout, Kind::Std, false, true));
    let stderr = new_file(st, FileInner::new(Stream::Stderr, Kind::Std, false, true));
    st.set_field(t, "stdin", stdin);
    st.set_field(t, "stdout", stdout);
    st.set_field(t, "stderr", stderr);
    st.set_field(reg, IO_INPUT, stdin);
    st.set_field(reg, IO_OUTPUT, stdout);

    let g = st.globals;
    st.set_field(g, "io", Value::Table(t));
    let l = st.loaded;
    st.set_field(l, "io", Value::Table(t));
}

// ---------------------------------------------------------------------------------------------
// Streams

/// Where a file handle's bytes go to or come from.
enum Stream {
    /// A regular file, `io.tmpfile()`, or the standard input (a duplicate of descriptor 0).
    File(File),
    /// The process's standard output (shared with `print`).
    Stdout,
    /// The process's standard error.
    Stderr,
    /// `io.popen(cmd, "r")`: the command's output.
    PipeRead(Child, ChildStdout),
    /// `io.popen(cmd, "w")`: the command's input.
    PipeWrite(Child, ChildStdin),
    /// A standard stream that could not be opened.
    Bad,
}

/// How a handle is closed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Closed by closing the file.
    Regular,
    /// A standard file: cannot be closed.
    Std,
    /// A pipe: closing waits for the process and reports its status.
    Pipe,
}

/// Buffering mode (`setvbuf`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum BufMode {
    No,
    Full,
    Line,
}

fn ebadf() -> io::Error {
    io::Error::from_raw_os_error(libc::EBADF)
}

/// The state of an open (or closed) file handle.
struct FileInner {
    /// `None` once closed.
    stream: Option<Stream>,
    kind: Kind,
    readable: bool,
    writable: bool,
    /// Read-ahead buffer and the position of the next unread byte in it.
    rbuf: Vec<u8>,
    /// Number of valid bytes in `rbuf`.
    rlen: usize,
    rpos: usize,
    /// Bytes written but not yet handed to the stream.
    wbuf: Vec<u8>,
    mode: BufMode,
    bufsize: usize,
    /// The error of the current operation, like C's `ferror` flag.
    error: Option<io::Error>,
}

impl FileInner {
    fn new(stream: Stream, kind: Kind, readable: bool, writable: bool) -> FileInner {
        FileInner {
            stream: Some(stream),
            kind,
            readable,
            writable,
            rbuf: Vec::new(),
            rlen: 0,
            rpos: 0,
            wbuf: Vec::new(),
            mode: BufMode::Full,
            bufsize: BUFSIZE,
            error: None,
        }
    }

    fn is_closed(&self) -> bool {
        self.stream.is_none()
    }

    /// Reads directly from the stream.
    fn raw_read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.readable {
            return Err(ebadf());
        }
        loop {
            let r = match &mut self.stream {
                Some(Stream::File(f)) => f.read(buf),
                Some(Stream::PipeRead(_, out)) => out.read(buf),
                _ => Err(ebadf()),
            };
            match r {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => return r,
            }
        }
    }

    /// Writes directly to the stream.
    fn raw_write(&mut self, data: &[u8]) -> io::Result<()> {
        match &mut self.stream {
            Some(Stream::File(f)) => f.write_all(data),
            Some(Stream::PipeWrite(_, inp)) => inp.write_all(data),
            Some(Stream::Stdout) => io::stdout().write_all(data),
            Some(Stream::Stderr) => io::stderr().write_all(data),
            _ => Err(ebadf()),
        }
    }

    /// Hands buffered output to the stream.
    fn flush_wbuf(&mut self) -> io::Result<()> {
        if self.wbuf.is_empty() {
            return Ok(());
        }
        let data = std::mem::take(&mut self.wbuf);
        let r = self.raw_write(&data);
        let mut data = data;
        data.clear();
        self.wbuf = data;
        r
    }

    /// `fflush`: buffered output reaches the OS.
    fn flush(&mut self) -> io::Result<()> {
        self.flush_wbuf()?;
        match &mut self.stream {
            Some(Stream::Stdout) => io::stdout().flush(),
            Some(Stream::Stderr) => io::stderr().flush(),
            Some(Stream::PipeWrite(_, inp)) => inp.flush(),
            _ => Ok(()),
        }
    }

    /// Forgets read-ahead data, moving the file position back over what was not consumed.
    fn drop_read_buffer(&mut self) {
        let unread = self.rlen - self.rpos;
        if unread > 0 {
            if let Some(Stream::File(f)) = &mut self.stream {
                let _ = f.seek(SeekFrom::Current(-(unread as i64)));
            }
        }
        self.rlen = 0;
        self.rpos = 0;
    }

    /// Buffered write.
    fn write(&mut self, data: &[u8]) -> io::Result<()> {
        if !self.writable {
            return Err(ebadf());
        }
        self.drop_read_buffer();
        if matches!(self.stream, Some(Stream::Stdout | Stream::Stderr)) {
            return self.raw_write(data);
        }
        match self.mode {
            BufMode::No => {
                self.flush_wbuf()?;
                self.raw_write(data)
            }
            BufMode::Line => {
                // Flush through the last newline; keep the rest buffered.
                match data.iter().rposition(|&c| c == b'\n') {
                    Some(nl) => {
                        self.wbuf.extend_from_slice(&data[..=nl]);
                        self.flush_wbuf()?;
                        self.wbuf.extend_from_slice(&data[nl + 1..]);
                    }
                    None => self.wbuf.extend_from_slice(data),
                }
                if self.wbuf.len() >= self.bufsize {
                    self.flush_wbuf()
                } else {
                    Ok(())
                }
            }
            BufMode::Full => {
                self.wbuf.extend_from_slice(data);
                if self.wbuf.len() >= self.bufsize {
                    self.flush_wbuf()
                } else {
                    Ok(())
                }
            }
        }
    }

    /// Makes sure unread input is available; `false` at end of file (or on error, which is
    /// recorded).
    fn fill(&mut self) -> bool {
        if self.rpos < self.rlen {
            return true;
        }
        if let Err(e) = self.flush_wbuf() {
            self.error = Some(e);
            return false;
        }
        if self.rbuf.is_empty() {
            self.rbuf = vec![0; 16 * 1024];
        }
        self.rpos = 0;
        self.rlen = 0;
        let mut buf = std::mem::take(&mut self.rbuf);
        let r = self.raw_read(&mut buf);
        self.rbuf = buf;
        match r {
            Ok(n) => {
                self.rlen = n;
                n > 0
            }
            Err(e) => {
                self.error = Some(e);
                false
            }
        }
    }

    /// Next byte (`getc`), `None` at end of file.
    fn getc(&mut self) -> Option<u8> {
        if !self.fill() {
            return None;
        }
        let c = self.rbuf[self.rpos];
        self.rpos += 1;
        Some(c)
    }

    /// Pushes back the byte just read by [`FileInner::getc`].
    fn ungetc(&mut self, c: Option<u8>) {
        if c.is_some() && self.rpos > 0 {
            self.rpos -= 1;
        }
    }

    /// Reads a line; returns it and whether anything (even just a newline) was read.
    fn read_line(&mut self, keep_newline: bool) -> (Vec<u8>, bool) {
        let mut out = Vec::new();
        let mut newline = false;
        while self.fill() {
            let avail = &self.rbuf[self.rpos..self.rlen];
            match avail.iter().position(|&c| c == b'\n') {
                Some(i) => {
                    out.extend_from_slice(&avail[..i]);
                    if keep_newline {
                        out.push(b'\n');
                    }
                    self.rpos += i + 1;
                    newline = true;
                    break;
                }
                None => {
                    out.extend_from_slice(avail);
                    self.rpos = self.rlen;
                }
            }
        }
        let ok = newline || !out.is_empty();
        (out, ok)
    }

    /// Reads everything up to the end of the file.
    fn read_all(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        while self.fill() {
            out.extend_from_slice(&self.rbuf[self.rpos..self.rlen]);
            self.rpos = self.rlen;
        }
        out
    }

    /// Reads up to `n` bytes.
    fn read_chars(&mut self, n: u64) -> Vec<u8> {
        let mut out = Vec::new();
        let mut left = n;
        while left > 0 && self.fill() {
            let avail = &self.rbuf[self.rpos..self.rlen];
            let take = (avail.len() as u64).min(left) as usize;
            out.extend_from_slice(&avail[..take]);
            self.rpos += take;
            left -= take as u64;
        }
        out
    }

    /// Reads a numeral as PUC's `read_number` does; `None` when it is not a valid number.
    fn read_number(&mut self) -> Option<Value> {
        let mut rn = NumReader {
            buf: Vec::new(),
            c: None,
            overflow: false,
        };
        loop {
            rn.c = self.getc();
            match rn.c {
                Some(c) if crate::number::is_space(c) => continue,
                _ => break,
            }
        }
        rn.test2(self, b"-+");
        let mut count = 0;
        let mut hex = false;
        if rn.test2(self, b"00") {
            if rn.test2(self, b"xX") {
                hex = true;
            } else {
                count = 1;
            }
        }
        count += rn.read_digits(self, hex);
        if rn.test2(self, b"..") {
            count += rn.read_digits(self, hex);
        }
        if count > 0 && rn.test2(self, if hex { b"pP" } else { b"eE" }) {
            rn.test2(self, b"-+");
            rn.read_digits(self, false);
        }
        self.ungetc(rn.c);
        if rn.overflow {
            return None;
        }
        match crate::number::str_to_number(&rn.buf)? {
            crate::number::Number::Int(i) => Some(Value::Int(i)),
            crate::number::Number::Float(f) => Some(Value::Float(f)),
        }
    }

    /// Repositions the file (`fseek` + `ftell`).
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.flush_wbuf()?;
        let unread = (self.rlen - self.rpos) as i64;
        self.rlen = 0;
        self.rpos = 0;
        let pos = match pos {
            SeekFrom::Current(off) => SeekFrom::Current(off.saturating_sub(unread)),
            p => p,
        };
        match &mut self.stream {
            Some(Stream::File(f)) => f.seek(pos),
            Some(Stream::Stdout) => {
                io::stdout().flush()?;
                let mut f = File::from(io::stdout().as_fd().try_clone_to_owned()?);
                f.seek(pos)
            }
            Some(Stream::Stderr) => {
                let mut f = File::from(io::stderr().as_fd().try_clone_to_owned()?);
                f.seek(pos)
            }
            Some(Stream::PipeRead(..) | Stream::PipeWrite(..)) => {
                Err(io::Error::from_raw_os_error(libc::ESPIPE))
            }
            _ => Err(ebadf()),
        }
    }

    /// Closes the stream; for pipes, waits for the process and returns its status.
    fn close(&mut self) -> io::Result<Option<std::process::ExitStatus>> {
        let flushed = self.flush_wbuf();
        self.rbuf = Vec::new();
        self.rlen = 0;
        self.rpos = 0;
        let stream = self.stream.take();
        match stream {
            Some(Stream::PipeRead(mut child, out)) => {
                drop(out);
                let status = child.wait()?;
                Ok(Some(status))
            }
            Some(Stream::PipeWrite(mut child, inp)) => {
                drop(inp);
                let status = child.wait()?;
                Ok(Some(status))
            }
            _ => flushed.map(|_| None),
        }
    }
}

impl Drop for FileInner {
    fn drop(&mut self) {
        if self.kind != Kind::Std && !self.is_closed() {
            let _ = self.close();
        } else {
            let _ = self.flush_wbuf();
        }
    }
}

/// Scanner state of `read_number`.
struct NumReader {
    buf: Vec<u8>,
    /// The look-ahead byte (`None`: end of file).
    c: Option<u8>,
    /// Set when the numeral is longer than [`MAXLENNUM`].
    overflow: bool,
}

impl NumReader {
    /// Accepts the look-ahead byte and reads the next one.
    fn nextc(&mut self, f: &mut FileInner) -> bool {
        if self.buf.len() >= MAXLENNUM {
            self.overflow = true;
            return false;
        }
        if let Some(c) = self.c {
            self.buf.push(c);
        }
        self.c = f.getc();
        true
    }

    /// Accepts the look-ahead byte if it is one of the two in `set`.
    fn test2(&mut self, f: &mut FileInner, set: &[u8; 2]) -> bool {
        match self.c {
            Some(c) if c == set[0] || c == set[1] => self.nextc(f),
            _ => false,
        }
    }

    /// Accepts a run of (hex) digits; returns how many.
    fn read_digits(&mut self, f: &mut FileInner, hex: bool) -> usize {
        let mut count = 0;
        while let Some(c) = self.c {
            let ok = if hex {
                c.is_ascii_hexdigit()
            } else {
                c.is_ascii_digit()
            };
            if !ok || !self.nextc(f) {
                break;
            }
            count += 1;
        }
        count
    }
}

/// Every file handle a state created, for [`flush_all`]. Kept in the state (not in a
/// thread-local) so that a state moved to another thread takes its list along and no thread
/// holds references into another thread's state.
#[derive(Default)]
pub struct OpenFiles(Vec<Weak<RefCell<FileInner>>>);

/// Flushes the output buffers of every open file of the state (used by `os.exit`, which skips
/// destructors, and before running a subprocess).
pub fn flush_all(st: &State) {
    for w in st.open_files.0.iter() {
        if let Some(f) = w.upgrade() {
            if let Ok(mut f) = f.try_borrow_mut() {
                let _ = f.flush();
            }
        }
    }
}

/// The payload of a file-handle userdata.
pub struct LuaFile(Rc<RefCell<FileInner>>);

/// Wraps a stream in a new file-handle userdata.
fn new_file(st: &mut State, inner: FileInner) -> Value {
    let rc = Rc::new(RefCell::new(inner));
    let files = &mut st.open_files.0;
    if files.len() >= 64 && files.len().is_power_of_two() {
        files.retain(|w| w.strong_count() > 0);
    }
    files.push(Rc::downgrade(&rc));
    let mt = match st.get_field(st.registry, FILEHANDLE) {
        Value::Table(t) => Some(t),
        _ => None,
    };
    let ud = st.heap.alloc(UserData {
        meta: Cell::new(mt),
        user_values: RefCell::new(Vec::new()),
        data: RefCell::new(Box::new(LuaFile(rc))),
        finalizer_registered: Cell::new(false),
    });
    let v = Value::UserData(ud);
    st.check_finalizer(v);
    v
}

/// The file of a value, if it is a file handle.
fn file_of(v: Value) -> Option<Rc<RefCell<FileInner>>> {
    match v {
        Value::UserData(u) => u
            .data
            .borrow()
            .downcast_ref::<LuaFile>()
            .map(|f| f.0.clone()),
        _ => None,
    }
}

/// `luaL_checkudata(arg, "FILE*")`.
fn to_lstream(ctx: &mut Ctx, arg: usize) -> LuaResult<Rc<RefCell<FileInner>>> {
    match file_of(ctx.arg(arg)) {
        Some(f) => Ok(f),
        None => Err(ctx.type_error(arg, FILEHANDLE)),
    }
}

/// `tofile`: argument `arg` must be an open file handle.
fn tofile(ctx: &mut Ctx, arg: usize) -> LuaResult<Rc<RefCell<FileInner>>> {
    let f = to_lstream(ctx, arg)?;
    if f.borrow().is_closed() {
        return Err(ctx.error("attempt to use a closed file"));
    }
    Ok(f)
}

/// A path from Lua string bytes (C semantics: the name ends at the first NUL).
fn c_path(b: &[u8]) -> &OsStr {
    OsStr::from_bytes(&b[..b.iter().position(|&c| c == 0).unwrap_or(b.len())])
}

/// `l_checkmode`: `[rwa]%+?b*`.
fn check_mode(mode: &[u8]) -> bool {
    let mode = &mode[..mode.iter().position(|&c| c == 0).unwrap_or(mode.len())];
    match mode.split_first() {
        Some((c, rest)) if b"rwa".contains(c) => {
            let rest = rest.strip_prefix(b"+").unwrap_or(rest);
            rest.iter().all(|&c| c == b'b')
        }
        _ => false,
    }
}

/// Opens a file as `fopen` with a mode accepted by [`check_mode`].
fn fopen(name: &[u8], mode: &[u8]) -> io::Result<FileInner> {
    let plus = mode.get(1) == Some(&b'+');
    let mut o = std::fs::OpenOptions::new();
    let (r, w) = match mode[0] {
        b'r' => {
            o.read(true).write(plus);
            (true, plus)
        }
        b'w' => {
            o.write(true).read(plus).create(true).truncate(true);
            (plus, true)
        }
        _ => {
            o.append(true).read(plus).create(true);
            (plus, true)
        }
    };
    let f = o.open(c_path(name))?;
    Ok(FileInner::new(Stream::File(f), Kind::Regular, r, w))
}

/// `opencheck`: opens a file or raises "cannot open file 'name' (reason)".
fn opencheck(ctx: &mut Ctx, name: &[u8], mode: &[u8]) -> LuaResult<Value> {
    match fopen(name, mode) {
        Ok(inner) => Ok(new_file(ctx.st, inner)),
        Err(e) => Err(ctx.error(format!(
            "cannot open file '{}' ({})",
            String::from_utf8_lossy(name),
            os_error_text(&e)
        ))),
    }
}

/// The default input or output file from the registry (`getiofile`).
fn getiofile(ctx: &mut Ctx, key: &str) -> LuaResult<(Value, Rc<RefCell<FileInner>>)> {
    let v = ctx.st.get_field(ctx.st.registry, key);
    match file_of(v) {
        Some(f) if !f.borrow().is_closed() => Ok((v, f)),
        _ => Err(ctx.error(format!("default {} file is closed", &key["_IO_".len()..]))),
    }
}

// ---------------------------------------------------------------------------------------------
// Closing

/// Closes a file handle and returns the results of `close` (`aux_close`).
fn aux_close(ctx: &mut Ctx, f: &Rc<RefCell<FileInner>>) -> LuaResult<Action> {
    let kind = f.borrow().kind;
    if kind == Kind::Std {
        let m = ctx.new_str(b"cannot close standard file");
        return ctx.ret(&[Value::Nil, m]);
    }
    let r = f.borrow_mut().close();
    match r {
        Ok(None) => ctx.ret1(Value::Bool(true)),
        Ok(Some(status)) => exec_result(ctx, status),
        Err(e) => file_error(ctx, &e, None),
    }
}

fn f_close(ctx: &mut Ctx) -> LuaResult<Action> {
    let f = tofile(ctx, 1)?;
    aux_close(ctx, &f)
}

fn io_close(ctx: &mut Ctx) -> LuaResult<Action> {
    if ctx.nargs() == 0 {
        let v = ctx.st.get_field(ctx.st.registry, IO_OUTPUT);
        ctx.push(v);
        ctx.nargs = 1;
    }
    f_close(ctx)
}

fn f_gc(ctx: &mut Ctx) -> LuaResult<Action> {
    let f = to_lstream(ctx, 1)?;
    let open = !f.borrow().is_closed() && f.borrow().kind != Kind::Std;
    if open {
        let _ = f.borrow_mut().close();
    }
    Ok(Action::Return(0))
}

fn f_tostring(ctx: &mut Ctx) -> LuaResult<Action> {
    let f = to_lstream(ctx, 1)?;
    let s = if f.borrow().is_closed() {
        "file (closed)".to_string()
    } else {
        format!("file ({:p})", Rc::as_ptr(&f))
    };
    let v = ctx.new_str(s.as_bytes());
    ctx.ret1(v)
}

// ---------------------------------------------------------------------------------------------
// Opening

fn io_open(ctx: &mut Ctx) -> LuaResult<Action> {
    let name = ctx.check_str(1)?;
    let mode = match ctx.opt_str(2)? {
        Some(m) => m.as_bytes().to_vec(),
        None => b"r".to_vec(),
    };
    if !check_mode(&mode) {
        return Err(ctx.arg_error(2, "invalid mode"));
    }
    match fopen(name.as_bytes(), &mode) {
        Ok(inner) => {
            let v = new_file(ctx.st, inner);
            ctx.ret1(v)
        }
        Err(e) => file_error(ctx, &e, Some(name.as_bytes())),
    }
}

fn io_popen(ctx: &mut Ctx) -> LuaResult<Action> {
    let prog = ctx.check_str(1)?;
    let mode = match ctx.opt_str(2)? {
        Some(m) => m.as_bytes().to_vec(),
        None => b"r".to_vec(),
    };
    if mode != b"r" && mode != b"w" {
        return Err(ctx.arg_error(2, "invalid mode"));
    }
    let _ = io::stdout().flush();
    flush_all(ctx.st);
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c").arg(c_path(prog.as_bytes()));
    let reading = mode == b"r";
    if reading {
        cmd.stdout(Stdio::piped());
    } else {
        cmd.stdin(Stdio::piped());
    }
    let spawned = cmd.spawn().and_then(|mut child| {
        let stream = if reading {
            match child.stdout.take() {
                Some(out) => Stream::PipeRead(child, out),
                None => return Err(ebadf()),
            }
        } else {
            match child.stdin.take() {
                Some(inp) => Stream::PipeWrite(child, inp),
                None => return Err(ebadf()),
            }
        };
        Ok(stream)
    });
    match spawned {
        Ok(stream) => {
            let v = new_file(
                ctx.st,
                FileInner::new(stream, Kind::Pipe, reading, !reading),
            );
            ctx.ret1(v)
        }
        Err(e) => file_error(ctx, &e, Some(prog.as_bytes())),
    }
}

/// Creates an anonymous temporary file (created, then unlinked, as `tmpfile()` does).
fn make_tmpfile() -> io::Result<File> {
    let base = std::env::temp_dir();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    for attempt in 0..100u32 {
        let name = base.join(format!(
            "rua_tmp_{}_{}_{}",
            std::process::id(),
            nanos,
            attempt
        ));
        match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&name)
        {
            Ok(f) => {
                let _ = std::fs::remove_file(&name);
                return Ok(f);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::from_raw_os_error(libc::EEXIST))
}

fn io_tmpfile(ctx: &mut Ctx) -> LuaResult<Action> {
    match make_tmpfile() {
        Ok(f) => {
            let v = new_file(
                ctx.st,
                FileInner::new(Stream::File(f), Kind::Regular, true, true),
            );
            ctx.ret1(v)
        }
        Err(e) => file_error(ctx, &e, None),
    }
}

fn io_type(ctx: &mut Ctx) -> LuaResult<Action> {
    let v = ctx.check_any(1)?;
    match file_of(v) {
        None => ctx.ret1(Value::Nil),
        Some(f) => {
            let s: &[u8] = if f.borrow().is_closed() {
                b"closed file"
            } else {
                b"file"
            };
            let s = ctx.new_str(s);
            ctx.ret1(s)
        }
    }
}

/// `io.input` / `io.output`: sets the default file from a name or a handle, returns it.
fn g_iofile(ctx: &mut Ctx, key: &str, mode: &[u8]) -> LuaResult<Action> {
    let arg = ctx.arg(1);
    if !arg.is_nil() {
        let newf = match arg {
            Value::Str(_) | Value::Int(_) | Value::Float(_) => {
                let name = ctx.check_str(1)?;
                opencheck(ctx, name.as_bytes(), mode)?
            }
            _ => {
                tofile(ctx, 1)?;
                arg
            }
        };
        let reg = ctx.st.registry;
        ctx.st.set_field(reg, key, newf);
    }
    let v = ctx.st.get_field(ctx.st.registry, key);
    ctx.ret1(v)
}

fn io_input(ctx: &mut Ctx) -> LuaResult<Action> {
    g_iofile(ctx, IO_INPUT, b"r")
}

fn io_output(ctx: &mut Ctx) -> LuaResult<Action> {
    g_iofile(ctx, IO_OUTPUT, b"w")
}

// ---------------------------------------------------------------------------------------------
// Reading

/// One checked read format.
enum Format {
    /// `n` bytes (0: test for end of file).
    Count(u64),
    Number,
    Line,
    LineNl,
    All,
}

/// Validates format `v`, Lua argument number `arg`.
fn check_format(ctx: &mut Ctx, v: Value, arg: usize) -> LuaResult<Format> {
    match v {
        Value::Int(n) => Ok(Format::Count(n as u64)),
        Value::Float(f) => match crate::number::float_to_int_exact(f) {
            Some(n) => Ok(Format::Count(n as u64)),
            None => Err(ctx.arg_error(arg, "number has no integer representation")),
        },
        Value::Str(s) => {
            let b = s.as_bytes();
            let b = b.strip_prefix(b"*").unwrap_or(b);
            match b.first() {
                Some(b'n') => Ok(Format::Number),
                Some(b'l') => Ok(Format::Line),
                Some(b'L') => Ok(Format::LineNl),
                Some(b'a') => Ok(Format::All),
                _ => Err(ctx.arg_error(arg, "invalid format")),
            }
        }
        _ => {
            let got = if matches!(v, Value::Nil) && arg > ctx.nargs() {
                "no value".to_string()
            } else {
                ctx.st.type_name_for_msg(v)
            };
            Err(ctx.arg_error(arg, format!("string expected, got {}", got)))
        }
    }
}

/// Outcome of [`g_read`].
enum ReadOutcome {
    /// The values read (the last one is nil if its format failed).
    Values(Vec<Value>),
    /// A read error (`ferror`).
    Error(io::Error),
}

/// `g_read`: reads with formats `fmts`, the first being Lua argument `first`.
fn g_read(
    ctx: &mut Ctx,
    f: &Rc<RefCell<FileInner>>,
    fmts: &[Value],
    first: usize,
) -> LuaResult<ReadOutcome> {
    f.borrow_mut().error = None;
    let mut out = Vec::new();
    if fmts.is_empty() {
        let (line, ok) = f.borrow_mut().read_line(false);
        out.push(if ok { ctx.new_string(line) } else { Value::Nil });
    } else {
        check_stack(ctx, fmts.len() + 20, "too many arguments")?;
        for (k, &fv) in fmts.iter().enumerate() {
            let fmt = check_format(ctx, fv, first + k)?;
            let mut file = f.borrow_mut();
            let (v, ok) = match fmt {
                Format::Count(0) => {
                    let c = file.getc();
                    file.ungetc(c);
                    drop(file);
                    (ctx.new_str(b""), c.is_some())
                }
                Format::Count(n) => {
                    let s = file.read_chars(n);
                    drop(file);
                    let ok = !s.is_empty();
                    (ctx.new_string(s), ok)
                }
                Format::Number => match file.read_number() {
                    Some(v) => (v, true),
                    None => (Value::Nil, false),
                },
                Format::Line | Format::LineNl => {
                    let (s, ok) = file.read_line(matches!(fmt, Format::LineNl));
                    drop(file);
                    (ctx.new_string(s), ok)
                }
                Format::All => {
                    let s = file.read_all();
                    drop(file);
                    (ctx.new_string(s), true)
                }
            };
            if !ok {
                out.push(Value::Nil);
                break;
            }
            out.push(v);
        }
    }
    if let Some(e) = f.borrow_mut().error.take() {
        return Ok(ReadOutcome::Error(e));
    }
    Ok(ReadOutcome::Values(out))
}

/// Returns the outcome of a read to Lua.
fn read_results(ctx: &mut Ctx, r: ReadOutcome) -> LuaResult<Action> {
    match r {
        ReadOutcome::Values(v) => ctx.ret(&v),
        ReadOutcome::Error(e) => file_error(ctx, &e, None),
    }
}

fn io_read(ctx: &mut Ctx) -> LuaResult<Action> {
    let (_, f) = getiofile(ctx, IO_INPUT)?;
    let fmts = ctx.args();
    let r = g_read(ctx, &f, &fmts, 1)?;
    read_results(ctx, r)
}

fn f_read(ctx: &mut Ctx) -> LuaResult<Action> {
    let f = tofile(ctx, 1)?;
    let fmts: Vec<Value> = ctx.args().into_iter().skip(1).collect();
    let r = g_read(ctx, &f, &fmts, 2)?;
    read_results(ctx, r)
}

/// The iterator of `lines`: upvalues are the file, the number of formats, whether to close the
/// file at the end, and the formats.
fn io_readline(ctx: &mut Ctx) -> LuaResult<Action> {
    let fv = ctx.st.current_native_upvalue(0);
    let Some(f) = file_of(fv) else {
        return Err(ctx.error("file is already closed"));
    };
    if f.borrow().is_closed() {
        return Err(ctx.error("file is already closed"));
    }
    let n = match ctx.st.current_native_upvalue(1) {
        Value::Int(n) => n as usize,
        _ => 0,
    };
    let toclose = ctx.st.current_native_upvalue(2).truthy();
    let fmts: Vec<Value> = (0..n)
        .map(|i| ctx.st.current_native_upvalue(3 + i))
        .collect();
    match g_read(ctx, &f, &fmts, 2)? {
        ReadOutcome::Values(v) if v.first().is_some_and(|x| x.truthy()) => ctx.ret(&v),
        ReadOutcome::Error(e) => Err(ctx.error(os_error_text(&e))),
        ReadOutcome::Values(_) => {
            if toclose {
                let _ = f.borrow_mut().close();
            }
            Ok(Action::Return(0))
        }
    }
}

/// Builds the `lines` iterator over `file` with the formats in arguments `2..`.
fn aux_lines(ctx: &mut Ctx, file: Value, toclose: bool) -> LuaResult<Value> {
    let n = ctx.nargs().saturating_sub(1);
    if n > MAXARGLINE {
        return Err(ctx.arg_error(MAXARGLINE + 2, "too many arguments"));
    }
    let mut ups = vec![file, Value::Int(n as i64), Value::Bool(toclose)];
    for i in 0..n {
        ups.push(ctx.arg(2 + i));
    }
    Ok(ctx.st.new_native_with(io_readline, "for iterator", &ups))
}

fn f_lines(ctx: &mut Ctx) -> LuaResult<Action> {
    tofile(ctx, 1)?;
    let file = ctx.arg(1);
    let it = aux_lines(ctx, file, false)?;
    ctx.ret1(it)
}

fn io_lines(ctx: &mut Ctx) -> LuaResult<Action> {
    if ctx.arg(1).is_nil() {
        let v = ctx.st.get_field(ctx.st.registry, IO_INPUT);
        if ctx.nargs() == 0 {
            ctx.push(v);
            ctx.nargs = 1;
        } else {
            ctx.set_arg(1, v);
        }
        tofile(ctx, 1)?;
        let it = aux_lines(ctx, v, false)?;
        return ctx.ret1(it);
    }
    let name = ctx.check_str(1)?;
    let file = opencheck(ctx, name.as_bytes(), b"r")?;
    let it = aux_lines(ctx, file, true)?;
    ctx.ret(&[it, Value::Nil, Value::Nil, file])
}

// ---------------------------------------------------------------------------------------------
// Writing and other methods

/// `g_write`: writes arguments `arg..` to `f`; returns `file` on success.
fn g_write(
    ctx: &mut Ctx,
    file: Value,
    f: &Rc<RefCell<FileInner>>,
    arg: usize,
) -> LuaResult<Action> {
    let mut status: io::Result<()> = Ok(());
    let mut buf = Vec::new();
    for i in arg..=ctx.nargs() {
        buf.clear();
        let data: &[u8] = match ctx.arg(i) {
            Value::Int(n) => {
                crate::number::fmt_int(n, &mut buf);
                &buf
            }
            Value::Float(x) => {
                crate::stdlib::strformat::format_g(x, 14, &mut buf);
                &buf
            }
            _ => {
                let s = ctx.check_str(i)?;
                buf.extend_from_slice(s.as_bytes());
                &buf
            }
        };
        let r = f.borrow_mut().write(data);
        if status.is_ok() {
            status = r;
        }
    }
    match status {
        Ok(()) => ctx.ret1(file),
        Err(e) => file_error(ctx, &e, None),
    }
}

fn io_write(ctx: &mut Ctx) -> LuaResult<Action> {
    let (v, f) = getiofile(ctx, IO_OUTPUT)?;
    g_write(ctx, v, &f, 1)
}

fn f_write(ctx: &mut Ctx) -> LuaResult<Action> {
    let f = tofile(ctx, 1)?;
    let v = ctx.arg(1);
    g_write(ctx, v, &f, 2)
}

fn f_seek(ctx: &mut Ctx) -> LuaResult<Action> {
    let f = tofile(ctx, 1)?;
    let op = ctx.check_option(2, Some("cur"), &["set", "cur", "end"])?;
    let off = ctx.opt_int(3, 0)?;
    let pos = match op {
        0 => {
            if off < 0 {
                let e = io::Error::from_raw_os_error(libc::EINVAL);
                return file_error(ctx, &e, None);
            }
            SeekFrom::Start(off as u64)
        }
        1 => SeekFrom::Current(off),
        _ => SeekFrom::End(off),
    };
    let r = f.borrow_mut().seek(pos);
    match r {
        Ok(p) => ctx.ret1(Value::Int(p as i64)),
        Err(e) => file_error(ctx, &e, None),
    }
}

fn f_setvbuf(ctx: &mut Ctx) -> LuaResult<Action> {
    let f = tofile(ctx, 1)?;
    let op = ctx.check_option(2, None, &["no", "full", "line"])?;
    let size = ctx.opt_int(3, BUFSIZE as i64)?;
    let mut file = f.borrow_mut();
    let r = file.flush_wbuf();
    file.mode = [BufMode::No, BufMode::Full, BufMode::Line][op];
    file.bufsize = usize::try_from(size).unwrap_or(BUFSIZE).clamp(1, 1 << 24);
    drop(file);
    match r {
        Ok(()) => ctx.ret1(Value::Bool(true)),
        Err(e) => file_error(ctx, &e, None),
    }
}

fn io_flush(ctx: &mut Ctx) -> LuaResult<Action> {
    let (_, f) = getiofile(ctx, IO_OUTPUT)?;
    let r = f.borrow_mut().flush();
    match r {
        Ok(()) => ctx.ret1(Value::Bool(true)),
        Err(e) => file_error(ctx, &e, None),
    }
}

fn f_flush(ctx: &mut Ctx) -> LuaResult<Action> {
    let f = tofile(ctx, 1)?;
    let r = f.borrow_mut().flush();
    match r {
        Ok(()) => ctx.ret1(Value::Bool(true)),
        Err(e) => file_error(ctx, &e, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_modes() {
        for m in ["r", "w", "a", "r+", "w+", "a+", "rb", "r+b", "wbb"] {
            assert!(check_mode(m.as_bytes()), "{m}");
        }
        for m in ["", "x", "rw", "rb+", "r+x", "+"] {
            assert!(!check_mode(m.as_bytes()), "{m}");
        }
    }
}
