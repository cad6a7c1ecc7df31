//! Parser for the complete Lua 5.4 grammar: turns a chunk into the [`ast`](crate::ast) consumed
//! by the compiler.
//!
//! This module owns syntax analysis. It is a recursive-descent parser with precedence climbing
//! for binary operators that follows the structure of PUC Lua 5.4's parser, so that it accepts
//! the same programs and reports the same errors, with the same text at the same line, as
//! `luac5.4 -p` or `load` would.
//!
//! Besides the grammar, the parser performs the checks that PUC Lua makes while parsing, in the
//! same order, so that the first error reported is the same:
//!
//! * local attributes (`unknown attribute 'x'`, `multiple to-be-closed variables ...`),
//! * `...` outside a vararg function,
//! * assignment to a `<const>` or `<close>` variable (`attempt to assign to const variable`),
//! * `goto`, labels and `break` (`no visible label ...`, `break outside loop ...`,
//!   `label ... already defined ...`, `<goto x> ... jumps into the scope of local ...`),
//! * at most 200 local variables per function.
//!
//! The compiler can therefore assume that every `goto` has a visible target label that does not
//! jump into the scope of a local, that every `break` is inside a loop, and that no read-only
//! variable is assigned. Limits that depend on code generation (registers, upvalues, constants)
//! are left to the compiler.
//!
//! Nesting is limited like PUC Lua's C stack (`C stack overflow` past 200 levels of nested
//! statements, expressions and assignment targets), and the height of expression trees grown by
//! long operator or suffix chains (`a+a+a+...`, `f()()()...`) is limited too, so that neither the
//! parser nor code walking the tree recursively (the compiler, `Drop`) can overflow the stack.

use std::fmt;
use std::ops::Range;

use crate::ast::{
    Attrib, BinOp, Block, Expr, ExprKind, FuncBody, IfArm, Line, Name, Return, Stat, TableField,
    UnOp,
};
use crate::lex::{Lexer, Token};

/// A compile-time error: a lexical or syntax error, a scoping error, or a limit.
#[derive(Debug, Clone)]
pub struct SyntaxError {
    /// The complete message as PUC Lua formats it, e.g.
    /// `[string "x = = 1"]:1: unexpected symbol near '='`.
    pub message: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SyntaxError {}

/// Parses a chunk.
///
/// `source` is the chunk text (bytes, may contain any bytes including invalid UTF-8 in
/// strings and comments), `chunkname` the raw chunk name (e.g. `b"@file.lua"`, `b"=stdin"`,
/// or source text) used for messages.
///
/// The main chunk is returned as a vararg [`FuncBody`] without parameters, with `line` 0 and
/// `end_line` the last line of the source.
pub fn parse(source: &[u8], chunkname: &[u8]) -> Result<FuncBody, SyntaxError> {
    Parser::new(source, chunkname)?.main_chunk()
}

/// PUC's `LUAI_MAXCCALLS`: the C-stack budget shared by nested statements, expressions and
/// assignment targets.
const LUAI_MAXCCALLS: u32 = 200;

/// Levels already in use when PUC's parser starts (as in `luac -p`), so that the nesting
/// depths accepted here are exactly those `luac5.4` accepts.
const CALLER_LEVELS: u32 = 1;

/// Maximum height of an expression tree grown by operator and suffix chains. Nesting alone
/// cannot reach it (the level limit stops first); every tree returned by [`parse`] has a
/// height (counting statement and expression nodes) below `MAX_HEIGHT + 3 * LUAI_MAXCCALLS`.
const MAX_HEIGHT: u32 = 1000;

/// PUC's `MAXVARS`: local variables (including hidden loop-control ones) per function.
const MAX_VARS: usize = 200;

/// PUC's limit on the number of visible labels and of pending gotos (`SHRT_MAX`).
const MAX_JUMPS: usize = 32767;

/// Priority of unary operators (binding tighter than all binary operators except `^`).
const UNARY_PRIORITY: u8 = 12;

/// The binary operator of a token, with its left and right priorities (a right priority
/// lower than the left one makes the operator right associative).
fn binary_op(token: &Token) -> Option<(BinOp, u8, u8)> {
    Some(match token {
        Token::Or => (BinOp::Or, 1, 1),
        Token::And => (BinOp::And, 2, 2),
        Token::Less => (BinOp::Lt, 3, 3),
        Token::Greater => (BinOp::Gt, 3, 3),
        Token::LessEqual => (BinOp::Le, 3, 3),
        Token::GreaterEqual => (BinOp::Ge, 3, 3),
        Token::NotEqual => (BinOp::Ne, 3, 3),
        Token::Equal => (BinOp::Eq, 3, 3),
        Token::Pipe => (BinOp::BOr, 4, 4),
        Token::Tilde => (BinOp::BXor, 5, 5),
        Token::Ampersand => (BinOp::BAnd, 6, 6),
        Token::ShiftLeft => (BinOp::Shl, 7, 7),
        Token::ShiftRight => (BinOp::Shr, 7, 7),
        Token::Concat => (BinOp::Concat, 9, 8),
        Token::Plus => (BinOp::Add, 10, 10),
        Token::Minus => (BinOp::Sub, 10, 10),
        Token::Star => (BinOp::Mul, 11, 11),
        Token::Slash => (BinOp::Div, 11, 11),
        Token::DoubleSlash => (BinOp::IDiv, 11, 11),
        Token::Percent => (BinOp::Mod, 11, 11),
        Token::Caret => (BinOp::Pow, 14, 13),
        _ => return None,
    })
}

/// The unary operator of a token.
fn unary_op(token: &Token) -> Option<UnOp> {
    Some(match token {
        Token::Not => UnOp::Not,
        Token::Minus => UnOp::Neg,
        Token::Hash => UnOp::Len,
        Token::Tilde => UnOp::BNot,
        _ => return None,
    })
}

/// Whether an expression can be the target of an assignment.
fn is_assignable(e: &Expr) -> bool {
    matches!(e.kind, ExprKind::Name(_) | ExprKind::Index(..))
}

type PResult<T> = Result<T, SyntaxError>;

/// PUC raises this from its memory allocator, without position.
fn too_many_jumps() -> SyntaxError {
    SyntaxError {
        message: format!("too many labels/gotos (limit is {MAX_JUMPS})"),
    }
}

/// A parsed node together with the height of its tree (see [`MAX_HEIGHT`]).
type Tall<T> = (T, u32);

/// A local variable declared in one of the functions being parsed.
struct LocalVar {
    name: Name,
    /// `<const>` or `<close>`.
    read_only: bool,
}

/// Scope information of a function being parsed.
struct FuncScope {
    /// Index in `Parser::vars` of its first local variable.
    first_var: usize,
    /// How many of its local variables are in scope; variables declared but not yet in scope
    /// (`local x = <being parsed>`) follow them in `Parser::vars`.
    active: usize,
    /// Index in `Parser::labels` of its first label.
    first_label: usize,
    /// Index in `Parser::blocks` of its outermost block.
    first_block: usize,
    is_vararg: bool,
    /// The function's `line` (0 for the main chunk), for limit messages.
    line: Line,
}

/// A block being parsed.
struct BlockScope {
    /// Variable level (length of the in-scope part of `Parser::vars`) at block entry.
    var_level: usize,
    first_label: usize,
    first_goto: usize,
    is_loop: bool,
}

/// A visible label, or a pending forward `goto` (a `break` is a goto to the label `break`).
struct Jump {
    name: Name,
    line: Line,
    /// Variable level at the label, or at the goto (lowered when the goto leaves a block).
    var_level: usize,
}

struct Parser<'a> {
    lex: Lexer<'a>,
    /// The current token and its source range.
    tok: Token,
    span: Range<usize>,
    /// One token of lookahead (only needed to tell `{name = v}` from `{name}`).
    ahead: Option<(Token, Range<usize>)>,
    /// PUC's `lastline`: the lexer's line when the previous token was consumed (the line of
    /// the last token read, or of the lookahead token when there was one). The tree records it
    /// where PUC emits code after consuming a token (`then`, `do`, the end of a block, ...).
    last_line: Line,
    /// Nesting levels in use (PUC's C-call count).
    level: u32,
    /// The function being parsed, and the functions enclosing it (innermost last).
    func: FuncScope,
    enclosing: Vec<FuncScope>,
    /// Local variables of all the functions being parsed, innermost last.
    vars: Vec<LocalVar>,
    /// Blocks of all the functions being parsed, innermost last.
    blocks: Vec<BlockScope>,
    /// Labels visible at the current point.
    labels: Vec<Jump>,
    /// Forward gotos waiting for their label.
    gotos: Vec<Jump>,
}

impl<'a> Parser<'a> {
    fn new(source: &'a [u8], chunkname: &[u8]) -> PResult<Self> {
        let mut lex = Lexer::new(source, chunkname);
        let tok = lex.next_token()?;
        let span = lex.span();
        let main = FuncScope {
            first_var: 0,
            active: 0,
            first_label: 0,
            first_block: 0,
            is_vararg: true,
            line: 0,
        };
        let mut parser = Parser {
            lex,
            tok,
            span,
            ahead: None,
            last_line: 1,
            level: 0,
            func: main,
            enclosing: Vec::new(),
            vars: Vec::new(),
            blocks: Vec::new(),
            labels: Vec::new(),
            gotos: Vec::new(),
        };
        parser.enter_block(false);
        Ok(parser)
    }

    // ---- token handling ------------------------------------------------------------------

    /// The lexer's current line (PUC's `linenumber`): the line of the current token, or of the
    /// lookahead token when there is one. All lines in the tree and in messages come from here.
    fn line(&self) -> Line {
        self.lex.line()
    }

    /// Moves to the next token, returning the previous one.
    fn advance(&mut self) -> PResult<Token> {
        self.last_line = self.lex.line();
        let (tok, span) = match self.ahead.take() {
            Some(next) => next,
            None => {
                let tok = self.lex.next_token()?;
                (tok, self.lex.span())
            }
        };
        self.span = span;
        Ok(std::mem::replace(&mut self.tok, tok))
    }

    /// Whether the token after the current one is `token` (reads it as lookahead).
    fn peek_is(&mut self, token: &Token) -> PResult<bool> {
        let next = match self.ahead.take() {
            Some(next) => next,
            None => {
                let tok = self.lex.next_token()?;
                (tok, self.lex.span())
            }
        };
        let is = next.0 == *token;
        self.ahead = Some(next);
        Ok(is)
    }

    /// `chunk:line: msg near 'token'`, with the current token.
    fn error_near(&self, msg: &str) -> SyntaxError {
        if self.tok == Token::Other(0) {
            // PUC's token code for a NUL byte is 0, which means "no token" to its error
            // function: the message has no "near" part.
            return self.error_plain(msg);
        }
        let near = self.lex.describe(&self.tok, self.span.clone());
        self.lex.error(msg, Some(&near))
    }

    /// `chunk:line: msg` (PUC's semantic errors, which do not show a token).
    fn error_plain(&self, msg: &str) -> SyntaxError {
        self.lex.error(msg, None)
    }

    fn expected(&self, what: &str) -> SyntaxError {
        self.error_near(&format!("{what} expected"))
    }

    /// `too many <what> (limit is N) in <function>` near the current token.
    fn limit_error(&self, limit: usize, what: &str) -> SyntaxError {
        let place = match self.func.line {
            0 => "main function".to_string(),
            line => format!("function at line {line}"),
        };
        self.error_near(&format!("too many {what} (limit is {limit}) in {place}"))
    }

    /// Skips the current token if it is `token`.
    fn test_next(&mut self, token: &Token) -> PResult<bool> {
        if self.tok == *token {
            self.advance()?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    /// Skips the current token, which must be `token`.
    fn check_next(&mut self, token: &Token) -> PResult<()> {
        if self.test_next(token)? {
            Ok(())
        } else {
            Err(self.expected(&token.kind_name()))
        }
    }

    /// Skips the token `what` closing `who` opened at `line`.
    fn check_match(&mut self, what: &Token, who: &Token, line: Line) -> PResult<()> {
        if self.test_next(what)? {
            Ok(())
        } else if line == self.line() {
            Err(self.expected(&what.kind_name()))
        } else {
            Err(self.error_near(&format!(
                "{} expected (to close {} at line {})",
                what.kind_name(),
                who.kind_name(),
                line
            )))
        }
    }

    /// Reads a name.
    fn check_name(&mut self) -> PResult<Name> {
        if matches!(self.tok, Token::Name(_)) {
            if let Token::Name(name) = self.advance()? {
                return Ok(name);
            }
        }
        Err(self.expected("<name>"))
    }

    /// Reads a string literal (the current token must be one).
    fn take_string(&mut self) -> PResult<Box<[u8]>> {
        if matches!(self.tok, Token::Str(_)) {
            if let Token::Str(s) = self.advance()? {
                return Ok(s);
            }
        }
        Err(self.expected("<string>"))
    }

    // ---- nesting limits ------------------------------------------------------------------

    /// Enters one nesting level (PUC's `enterlevel`).
    fn enter(&mut self) -> PResult<()> {
        self.level += 1;
        if self.level + CALLER_LEVELS >= LUAI_MAXCCALLS {
            // PUC raises this as a plain run-time error, without position.
            return Err(SyntaxError {
                message: "C stack overflow".into(),
            });
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.level = self.level.saturating_sub(1);
    }

    /// Checks the height of a tree grown by a chain.
    fn check_height(&self, height: u32) -> PResult<u32> {
        if height > MAX_HEIGHT {
            return Err(self.limit_error(MAX_HEIGHT as usize, "nested expressions"));
        }
        Ok(height)
    }

    // ---- scopes --------------------------------------------------------------------------

    /// Length of the in-scope part of `vars`.
    fn var_level(&self) -> usize {
        self.func.first_var + self.func.active
    }

    /// Starts a nested function (its outermost block included).
    fn open_func(&mut self, line: Line) {
        let scope = FuncScope {
            first_var: self.vars.len(),
            active: 0,
            first_label: self.labels.len(),
            first_block: self.blocks.len(),
            is_vararg: false,
            line,
        };
        self.enclosing
            .push(std::mem::replace(&mut self.func, scope));
        self.enter_block(false);
    }

    /// Ends the current function, reporting gotos that found no label.
    fn close_func(&mut self) -> PResult<()> {
        self.leave_block()?;
        self.vars.truncate(self.func.first_var);
        if let Some(outer) = self.enclosing.pop() {
            self.func = outer;
        }
        Ok(())
    }

    fn enter_block(&mut self, is_loop: bool) {
        self.blocks.push(BlockScope {
            var_level: self.var_level(),
            first_label: self.labels.len(),
            first_goto: self.gotos.len(),
            is_loop,
        });
    }

    fn leave_block(&mut self) -> PResult<()> {
        let Some(block) = self.blocks.pop() else {
            return Ok(());
        };
        self.vars.truncate(block.var_level);
        self.func.active = block.var_level.saturating_sub(self.func.first_var);
        if block.is_loop {
            // Pending `break`s jump to the end of the loop (PUC declares a `break` label).
            if self.labels.len() >= MAX_JUMPS {
                return Err(too_many_jumps());
            }
            self.remove_gotos(block.first_goto, "break");
        }
        self.labels.truncate(block.first_label);
        if self.blocks.len() > self.func.first_block {
            // Pending gotos move out to the enclosing block.
            for goto in self.gotos.iter_mut().skip(block.first_goto) {
                goto.var_level = block.var_level;
            }
            Ok(())
        } else if let Some(goto) = self.gotos.get(block.first_goto) {
            let msg = if &*goto.name == "break" {
                format!("break outside loop at line {}", goto.line)
            } else {
                format!(
                    "no visible label '{}' for <goto> at line {}",
                    goto.name, goto.line
                )
            };
            Err(self.error_plain(&msg))
        } else {
            Ok(())
        }
    }

    /// Declares a local variable of the current function (not yet in scope).
    fn declare_local(&mut self, name: Name) -> PResult<()> {
        if self.vars.len() + 1 - self.func.first_var > MAX_VARS {
            return Err(self.limit_error(MAX_VARS, "local variables"));
        }
        self.vars.push(LocalVar {
            name,
            read_only: false,
        });
        Ok(())
    }

    /// Brings the next `n` declared local variables into scope.
    fn activate_locals(&mut self, n: usize) {
        self.func.active += n;
    }

    /// The local variable (of this or an enclosing function) that `name` refers to.
    fn resolve(&self, name: &str) -> Option<&LocalVar> {
        std::iter::once(&self.func)
            .chain(self.enclosing.iter().rev())
            .find_map(|f| {
                let in_scope = self.vars.get(f.first_var..f.first_var + f.active)?;
                in_scope.iter().rev().find(|v| &*v.name == name)
            })
    }

    /// Reports an assignment to a `<const>` or `<close>` variable.
    fn check_read_only(&self, target: &Expr) -> PResult<()> {
        if let ExprKind::Name(name) = &target.kind {
            if self.resolve(name).is_some_and(|v| v.read_only) {
                let msg = format!("attempt to assign to const variable '{name}'");
                return Err(self.error_plain(&msg));
            }
        }
        Ok(())
    }

    /// A label of the current function visible here.
    fn find_label(&self, name: &str) -> Option<&Jump> {
        self.labels
            .iter()
            .skip(self.func.first_label)
            .find(|l| &*l.name == name)
    }

    /// Records a `goto` (or `break`, as a goto to `break`) unless it jumps back to a visible
    /// label.
    fn add_goto(&mut self, name: Name, line: Line) -> PResult<()> {
        if self.find_label(&name).is_none() {
            if self.gotos.len() >= MAX_JUMPS {
                return Err(too_many_jumps());
            }
            let var_level = self.var_level();
            self.gotos.push(Jump {
                name,
                line,
                var_level,
            });
        }
        Ok(())
    }

    /// Removes the pending gotos to `name` from index `first` on (they are resolved).
    fn remove_gotos(&mut self, first: usize, name: &str) {
        let mut index = 0;
        self.gotos.retain(|goto| {
            index += 1;
            index <= first || &*goto.name != name
        });
    }

    /// Declares a label, resolving the pending gotos of the current block that jump to it.
    /// `last` says whether only void statements follow it in its block (then the block's
    /// locals are considered out of scope at the label).
    fn add_label(&mut self, name: Name, line: Line, last: bool) -> PResult<()> {
        if let Some(previous) = self.find_label(&name) {
            let msg = format!("label '{name}' already defined on line {}", previous.line);
            return Err(self.error_plain(&msg));
        }
        let (block_level, first_goto) = self
            .blocks
            .last()
            .map_or((0, 0), |b| (b.var_level, b.first_goto));
        let var_level = if last { block_level } else { self.var_level() };
        if self.labels.len() >= MAX_JUMPS {
            return Err(too_many_jumps());
        }
        let jumps_into_scope = self
            .gotos
            .iter()
            .skip(first_goto)
            .find(|g| g.name == name && g.var_level < var_level);
        if let Some(goto) = jumps_into_scope {
            let local = self.vars.get(goto.var_level).map_or("?", |v| &*v.name);
            let msg = format!(
                "<goto {}> at line {} jumps into the scope of local '{}'",
                goto.name, goto.line, local
            );
            return Err(self.error_plain(&msg));
        }
        self.remove_gotos(first_goto, &name);
        self.labels.push(Jump {
            name,
            line,
            var_level,
        });
        Ok(())
    }

    // ---- blocks and statements ---------------------------------------------------------

    fn main_chunk(&mut self) -> PResult<FuncBody> {
        let (body, _) = self.stat_list()?;
        if self.tok != Token::Eof {
            return Err(self.expected("<eof>"));
        }
        let end_line = self.last_line;
        self.close_func()?;
        Ok(FuncBody {
            params: Vec::new(),
            is_vararg: true,
            is_method: false,
            body,
            line: 0,
            end_line,
            vararg_line: 1,
        })
    }

    /// Whether the current token ends a block.
    fn block_follow(&self, with_until: bool) -> bool {
        match self.tok {
            Token::Else | Token::ElseIf | Token::End | Token::Eof => true,
            Token::Until => with_until,
            _ => false,
        }
    }

    /// A block with its own scope.
    fn block(&mut self) -> PResult<Tall<Block>> {
        self.enter_block(false);
        let block = self.stat_list()?;
        self.leave_block()?;
        Ok(block)
    }

    /// { stat } [ retstat ], in the current scope.
    fn stat_list(&mut self) -> PResult<Tall<Block>> {
        let mut block = Block::default();
        let mut height = 0;
        while !self.block_follow(true) {
            if self.tok == Token::Return {
                let (ret, h) = self.return_stat()?;
                block.ret = Some(ret);
                height = height.max(h);
                break; // `return` must be the last statement
            }
            height = height.max(self.statement(&mut block.stats)?);
        }
        block.end_line = self.last_line;
        Ok((block, height))
    }

    /// retstat → `return` [ explist ] [ `;` ]
    fn return_stat(&mut self) -> PResult<Tall<Return>> {
        let line = self.line();
        self.enter()?;
        self.advance()?;
        let (exprs, height) = if self.block_follow(true) || self.tok == Token::Semicolon {
            (Vec::new(), 0)
        } else {
            self.expr_list()?
        };
        let end_line = self.last_line;
        self.test_next(&Token::Semicolon)?;
        self.leave();
        let ret = Return {
            exprs,
            line,
            end_line,
        };
        Ok((ret, height + 1))
    }

    /// Parses one statement into `stats` (nothing for `;`, possibly several for labels).
    /// Returns the height of what was added. (Statement parsers push their statement
    /// themselves so that the frames of this recursive path stay small.)
    fn statement(&mut self, stats: &mut Vec<Stat>) -> PResult<u32> {
        let line = self.line();
        self.enter()?;
        let height = match self.tok {
            Token::Semicolon => {
                self.advance()?;
                0
            }
            Token::DoubleColon => self.label_stat(stats, line)?,
            Token::If => self.if_stat(stats, line)?,
            Token::While => self.while_stat(stats, line)?,
            Token::Do => self.do_stat(stats, line)?,
            Token::For => self.for_stat(stats, line)?,
            Token::Repeat => self.repeat_stat(stats, line)?,
            Token::Function => self.function_stat(stats, line)?,
            Token::Local => {
                self.advance()?;
                if self.test_next(&Token::Function)? {
                    self.local_function(stats, line)?
                } else {
                    self.local_stat(stats, line)?
                }
            }
            Token::Break => {
                self.advance()?;
                self.add_goto("break".into(), line)?;
                stats.push(Stat::Break { line });
                1
            }
            Token::Goto => self.goto_stat(stats)?,
            _ => self.expr_stat(stats, line)?,
        };
        self.leave();
        Ok(height)
    }

    /// `do block end`
    fn do_stat(&mut self, stats: &mut Vec<Stat>, line: Line) -> PResult<u32> {
        self.advance()?;
        let (body, height) = self.block()?;
        self.check_match(&Token::End, &Token::Do, line)?;
        stats.push(Stat::Do(body));
        Ok(height + 1)
    }

    /// `goto name`
    fn goto_stat(&mut self, stats: &mut Vec<Stat>) -> PResult<u32> {
        self.advance()?;
        // PUC reports unresolved gotos at the line of the label name.
        let line = self.line();
        let label = self.check_name()?;
        self.add_goto(label.clone(), line)?;
        stats.push(Stat::Goto { label, line });
        Ok(1)
    }

    /// `::name::`
    fn label_stat(&mut self, stats: &mut Vec<Stat>, line: Line) -> PResult<u32> {
        self.advance()?;
        let name = self.check_name()?;
        self.check_next(&Token::DoubleColon)?;
        stats.push(Stat::Label {
            name: name.clone(),
            line,
        });
        // Like PUC, parse the void statements that follow before declaring the label, to
        // know whether it is the last statement of its block.
        let mut height = 1;
        while matches!(self.tok, Token::Semicolon | Token::DoubleColon) {
            height = height.max(self.statement(stats)?);
        }
        let last = self.block_follow(false);
        self.add_label(name, line, last)?;
        Ok(height)
    }

    /// `if cond then block {elseif cond then block} [else block] end`
    fn if_stat(&mut self, stats: &mut Vec<Stat>, line: Line) -> PResult<u32> {
        let mut arms = Vec::new();
        let mut height = 0;
        loop {
            self.advance()?; // `if` or `elseif`
            let (cond, hc) = self.expr()?;
            self.check_next(&Token::Then)?;
            let then_line = self.last_line;
            let (block, hb) = self.block()?;
            height = height.max(hc).max(hb);
            arms.push(IfArm {
                cond,
                then_line,
                block,
            });
            if self.tok != Token::ElseIf {
                break;
            }
        }
        let else_block = if self.test_next(&Token::Else)? {
            let (block, hb) = self.block()?;
            height = height.max(hb);
            Some(block)
        } else {
            None
        };
        self.check_match(&Token::End, &Token::If, line)?;
        let stat = Stat::If {
            arms,
            else_block,
            line,
        };
        stats.push(stat);
        Ok(height + 1)
    }

    /// `while cond do block end`
    fn while_stat(&mut self, stats: &mut Vec<Stat>, line: Line) -> PResult<u32> {
        self.advance()?;
        let (cond, hc) = self.expr()?;
        let cond_line = self.last_line;
        self.enter_block(true);
        self.check_next(&Token::Do)?;
        let (body, hb) = self.block()?;
        self.check_match(&Token::End, &Token::While, line)?;
        let end_line = self.last_line;
        self.leave_block()?;
        stats.push(Stat::While {
            cond,
            body,
            line,
            cond_line,
            end_line,
        });
        Ok(hc.max(hb) + 1)
    }

    /// `repeat block until cond` (the condition is inside the block's scope).
    fn repeat_stat(&mut self, stats: &mut Vec<Stat>, line: Line) -> PResult<u32> {
        self.enter_block(true);
        self.enter_block(false);
        self.advance()?;
        let (body, hb) = self.stat_list()?;
        self.check_match(&Token::Until, &Token::Repeat, line)?;
        let (cond, hc) = self.expr()?;
        let cond_line = self.last_line;
        self.leave_block()?;
        self.leave_block()?;
        stats.push(Stat::Repeat {
            body,
            cond,
            line,
            cond_line,
        });
        Ok(hc.max(hb) + 1)
    }

    /// Numeric or generic `for`.
    fn for_stat(&mut self, stats: &mut Vec<Stat>, line: Line) -> PResult<u32> {
        // Hidden loop-control variables, as PUC declares them (they count as locals).
        const CONTROL: &str = "(for state)";
        self.enter_block(true);
        self.advance()?;
        let var = self.check_name()?;
        let (mut stat, height) = match self.tok {
            Token::Assign => {
                for _ in 0..3 {
                    self.declare_local(CONTROL.into())?;
                }
                self.declare_local(var.clone())?;
                self.advance()?;
                let (start, h1) = self.expr()?;
                self.check_next(&Token::Comma)?;
                let (limit, h2) = self.expr()?;
                let (step, h3) = if self.test_next(&Token::Comma)? {
                    let (step, h3) = self.expr()?;
                    (Some(step), h3)
                } else {
                    (None, 0)
                };
                self.activate_locals(3);
                let (do_line, (body, hb)) = self.for_body(1)?;
                let stat = Stat::NumFor {
                    var,
                    start,
                    limit,
                    step,
                    body,
                    line,
                    do_line,
                    end_line: 0,
                };
                (stat, h1.max(h2).max(h3).max(hb))
            }
            Token::Comma | Token::In => {
                for _ in 0..4 {
                    self.declare_local(CONTROL.into())?;
                }
                self.declare_local(var.clone())?;
                let mut names = vec![var];
                while self.test_next(&Token::Comma)? {
                    let name = self.check_name()?;
                    self.declare_local(name.clone())?;
                    names.push(name);
                }
                self.check_next(&Token::In)?;
                let iter_line = self.line();
                let (exprs, he) = self.expr_list()?;
                self.activate_locals(4);
                let (do_line, (body, hb)) = self.for_body(names.len())?;
                let stat = Stat::GenFor {
                    names,
                    exprs,
                    body,
                    line,
                    iter_line,
                    do_line,
                    end_line: 0,
                };
                (stat, he.max(hb))
            }
            _ => return Err(self.error_near("'=' or 'in' expected")),
        };
        self.check_match(&Token::End, &Token::For, line)?;
        if let Stat::NumFor { end_line, .. } | Stat::GenFor { end_line, .. } = &mut stat {
            *end_line = self.last_line;
        }
        self.leave_block()?;
        stats.push(stat);
        Ok(height + 1)
    }

    /// `do block` of a `for`, with the `n_vars` loop variables in scope; returns the line of
    /// `do` with the block.
    fn for_body(&mut self, n_vars: usize) -> PResult<(Line, Tall<Block>)> {
        self.check_next(&Token::Do)?;
        let do_line = self.last_line;
        self.enter_block(false);
        self.activate_locals(n_vars);
        let body = self.block()?;
        self.leave_block()?;
        Ok((do_line, body))
    }

    /// `function a.b.c:m body`
    fn function_stat(&mut self, stats: &mut Vec<Stat>, line: Line) -> PResult<u32> {
        self.advance()?;
        let mut path = vec![self.check_name()?];
        while self.test_next(&Token::Dot)? {
            path.push(self.check_name()?);
        }
        let method = if self.test_next(&Token::Colon)? {
            Some(self.check_name()?)
        } else {
            None
        };
        let (func, height) = self.body(method.is_some(), line)?;
        let stat = Stat::Function {
            path,
            method,
            func: Box::new(func),
            line,
        };
        stats.push(stat);
        Ok(height + 1)
    }

    /// `local function name body` (after `local function`).
    fn local_function(&mut self, stats: &mut Vec<Stat>, line: Line) -> PResult<u32> {
        let name = self.check_name()?;
        self.declare_local(name.clone())?;
        self.activate_locals(1);
        // As in PUC, the function's line is the line after its name (where `(` is).
        let (func, height) = self.body(false, self.line())?;
        let stat = Stat::LocalFunction {
            name,
            func: Box::new(func),
            line,
        };
        stats.push(stat);
        Ok(height + 1)
    }

    /// `local name attrib {, name attrib} [= explist]` (after `local`).
    fn local_stat(&mut self, stats: &mut Vec<Stat>, line: Line) -> PResult<u32> {
        let mut names = Vec::new();
        let mut has_close = false;
        loop {
            let name = self.check_name()?;
            self.declare_local(name.clone())?;
            let attrib = self.attrib()?;
            if attrib != Attrib::None {
                if let Some(var) = self.vars.last_mut() {
                    var.read_only = true;
                }
            }
            if attrib == Attrib::Close {
                if has_close {
                    return Err(self.error_plain("multiple to-be-closed variables in local list"));
                }
                has_close = true;
            }
            names.push((name, attrib));
            if !self.test_next(&Token::Comma)? {
                break;
            }
        }
        let (exprs, height) = if self.test_next(&Token::Assign)? {
            self.expr_list()?
        } else {
            (Vec::new(), 0)
        };
        self.activate_locals(names.len());
        stats.push(Stat::Local {
            names,
            exprs,
            line,
            end_line: self.last_line,
        });
        Ok(height + 1)
    }

    /// attrib → [ `<` name `>` ]
    fn attrib(&mut self) -> PResult<Attrib> {
        if !self.test_next(&Token::Less)? {
            return Ok(Attrib::None);
        }
        let name = self.check_name()?;
        self.check_next(&Token::Greater)?;
        match &*name {
            "const" => Ok(Attrib::Const),
            "close" => Ok(Attrib::Close),
            _ => Err(self.error_plain(&format!("unknown attribute '{name}'"))),
        }
    }

    /// A function call or an assignment.
    fn expr_stat(&mut self, stats: &mut Vec<Stat>, line: Line) -> PResult<u32> {
        let (first, mut height) = self.suffixed_expr()?;
        if !matches!(self.tok, Token::Assign | Token::Comma) {
            if !matches!(first.kind, ExprKind::Call(..) | ExprKind::MethodCall(..)) {
                return Err(self.error_near("syntax error"));
            }
            stats.push(Stat::Call(first));
            return Ok(height + 1);
        }
        let mut targets = vec![first];
        // Each extra target takes a nesting level, as PUC's recursive `restassign` does.
        let mut extra_levels = 0;
        let exprs = loop {
            if let Some(target) = targets.last() {
                if !is_assignable(target) {
                    return Err(self.error_near("syntax error"));
                }
                self.check_read_only(target)?;
            }
            if self.test_next(&Token::Comma)? {
                let (target, h) = self.suffixed_expr()?;
                height = height.max(h);
                targets.push(target);
                self.enter()?;
                extra_levels += 1;
            } else {
                self.check_next(&Token::Assign)?;
                let (exprs, h) = self.expr_list()?;
                height = height.max(h);
                break exprs;
            }
        };
        self.level = self.level.saturating_sub(extra_levels);
        let stat = Stat::Assign {
            targets,
            exprs,
            line,
            end_line: self.last_line,
        };
        stats.push(stat);
        Ok(height + 1)
    }

    /// funcbody → `(` [ parlist ] `)` block `end`; `line` becomes the function's `line`.
    fn body(&mut self, is_method: bool, line: Line) -> PResult<Tall<FuncBody>> {
        self.open_func(line);
        self.check_next(&Token::LParen)?;
        let mut params: Vec<Name> = Vec::new();
        let mut vararg_line = 0;
        if is_method {
            self.declare_local("self".into())?;
            self.activate_locals(1);
            params.push("self".into());
        }
        if self.tok != Token::RParen {
            loop {
                match self.tok {
                    Token::Name(_) => {
                        let name = self.check_name()?;
                        self.declare_local(name.clone())?;
                        params.push(name);
                    }
                    Token::Dots => {
                        self.advance()?;
                        vararg_line = self.last_line;
                        self.func.is_vararg = true;
                    }
                    _ => return Err(self.error_near("<name> or '...' expected")),
                }
                if self.func.is_vararg || !self.test_next(&Token::Comma)? {
                    break;
                }
            }
        }
        self.activate_locals(params.len() - usize::from(is_method));
        self.check_next(&Token::RParen)?;
        let (body, height) = self.stat_list()?;
        let end_line = self.line();
        self.check_match(&Token::End, &Token::Function, line)?;
        let is_vararg = self.func.is_vararg;
        // Like PUC, close the function (and report its unresolved gotos) after `end`.
        self.close_func()?;
        let func = FuncBody {
            params,
            is_vararg,
            is_method,
            body,
            line,
            end_line,
            vararg_line,
        };
        Ok((func, height))
    }

    // ---- expressions ---------------------------------------------------------------------

    fn expr(&mut self) -> PResult<Tall<Expr>> {
        self.subexpr(0)
    }

    /// explist → expr { `,` expr }
    fn expr_list(&mut self) -> PResult<Tall<Vec<Expr>>> {
        let (first, mut height) = self.expr()?;
        let mut list = vec![first];
        while self.test_next(&Token::Comma)? {
            let (e, h) = self.expr()?;
            height = height.max(h);
            list.push(e);
        }
        Ok((list, height))
    }

    /// subexpr → (simpleexp | unop subexpr) { binop subexpr }, taking only binary operators
    /// whose left priority is greater than `limit`.
    fn subexpr(&mut self, limit: u8) -> PResult<Tall<Expr>> {
        self.enter()?;
        let (mut lhs, mut height) = match unary_op(&self.tok) {
            Some(op) => {
                let line = self.line();
                self.advance()?;
                let (operand, h) = self.subexpr(UNARY_PRIORITY)?;
                (
                    Expr::new(ExprKind::Unary(op, Box::new(operand)), line),
                    h + 1,
                )
            }
            None => self.simple_expr()?,
        };
        while let Some((op, left, right)) = binary_op(&self.tok) {
            if left <= limit {
                break;
            }
            let line = self.line();
            self.advance()?;
            let (rhs, h) = self.subexpr(right)?;
            height = self.check_height(height.max(h) + 1)?;
            lhs = Expr::new(ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)), line);
        }
        self.leave();
        Ok((lhs, height))
    }

    /// simpleexp → literal | `...` | table | `function` body | suffixedexp
    fn simple_expr(&mut self) -> PResult<Tall<Expr>> {
        let line = self.line();
        let kind = match self.tok {
            Token::Int(i) => ExprKind::Int(i),
            Token::Float(f) => ExprKind::Float(f),
            Token::Nil => ExprKind::Nil,
            Token::True => ExprKind::True,
            Token::False => ExprKind::False,
            Token::Dots => {
                if !self.func.is_vararg {
                    return Err(self.error_near("cannot use '...' outside a vararg function"));
                }
                ExprKind::Vararg
            }
            Token::Str(_) => {
                let s = self.take_string()?;
                return Ok((Expr::new(ExprKind::Str(s), line), 1));
            }
            Token::LBrace => return self.table(),
            Token::Function => return self.function_expr(line),
            _ => return self.suffixed_expr(),
        };
        self.advance()?;
        Ok((Expr::new(kind, line), 1))
    }

    /// `function body` (an anonymous function) starting at `line`.
    fn function_expr(&mut self, line: Line) -> PResult<Tall<Expr>> {
        self.advance()?;
        // As in PUC, the function's line is that of the token after `function`.
        let (func, height) = self.body(false, self.line())?;
        let kind = ExprKind::Function(Box::new(func));
        Ok((Expr::new(kind, line), height + 1))
    }

    /// primaryexp → name | `(` expr `)`
    fn primary_expr(&mut self) -> PResult<Tall<Expr>> {
        let line = self.line();
        match self.tok {
            Token::Name(_) => {
                let name = self.check_name()?;
                Ok((Expr::new(ExprKind::Name(name), line), 1))
            }
            Token::LParen => {
                self.advance()?;
                let (inner, height) = self.expr()?;
                self.check_match(&Token::RParen, &Token::LParen, line)?;
                Ok((
                    Expr::new(ExprKind::Paren(Box::new(inner)), line),
                    height + 1,
                ))
            }
            _ => Err(self.error_near("unexpected symbol")),
        }
    }

    /// suffixedexp → primaryexp { `.` name | `[` expr `]` | `:` name args | args }
    ///
    /// Calls get the line of their arguments' opening token, as in PUC Lua 5.4.8.
    fn suffixed_expr(&mut self) -> PResult<Tall<Expr>> {
        let (mut expr, mut height) = self.primary_expr()?;
        loop {
            // Each suffix is parsed by its own function to keep this recursive frame small.
            let (next, h) = match self.tok {
                Token::Dot => self.field_suffix(expr, height)?,
                Token::LBracket => self.index_suffix(expr, height)?,
                Token::Colon => self.method_suffix(expr, height)?,
                Token::LParen | Token::Str(_) | Token::LBrace => self.call_suffix(expr, height)?,
                _ => return Ok((expr, height)),
            };
            expr = next;
            height = self.check_height(h)?;
        }
    }

    /// `.name` after `obj`.
    fn field_suffix(&mut self, obj: Expr, height: u32) -> PResult<Tall<Expr>> {
        let dot_line = self.line();
        self.advance()?;
        let key_line = self.line();
        let name = self.check_name()?;
        let key = Expr::new(ExprKind::Str(name.into_boxed_bytes()), key_line);
        let kind = ExprKind::Index(Box::new(obj), Box::new(key));
        Ok((Expr::new(kind, dot_line), height + 1))
    }

    /// `[key]` after `obj`.
    fn index_suffix(&mut self, obj: Expr, height: u32) -> PResult<Tall<Expr>> {
        let bracket_line = self.line();
        self.advance()?;
        let (key, key_height) = self.expr()?;
        self.check_next(&Token::RBracket)?;
        let kind = ExprKind::Index(Box::new(obj), Box::new(key));
        Ok((Expr::new(kind, bracket_line), height.max(key_height) + 1))
    }

    /// `:name args` after `obj`; the call's line is that of the arguments.
    fn method_suffix(&mut self, obj: Expr, height: u32) -> PResult<Tall<Expr>> {
        self.advance()?;
        let name = self.check_name()?;
        let line = self.line();
        let (args, args_height) = self.call_args(line)?;
        let kind = ExprKind::MethodCall(Box::new(obj), name, args);
        let mut call = Expr::new(kind, line);
        call.end_line = self.last_line;
        Ok((call, height.max(args_height) + 1))
    }

    /// `args` after `func`; the call's line is that of the arguments.
    fn call_suffix(&mut self, func: Expr, height: u32) -> PResult<Tall<Expr>> {
        let line = self.line();
        let (args, args_height) = self.call_args(line)?;
        let kind = ExprKind::Call(Box::new(func), args);
        let mut call = Expr::new(kind, line);
        call.end_line = self.last_line;
        Ok((call, height.max(args_height) + 1))
    }

    /// args → `(` [ explist ] `)` | table | string; `line` is that of their first token.
    fn call_args(&mut self, line: Line) -> PResult<Tall<Vec<Expr>>> {
        match self.tok {
            Token::LParen => {
                self.advance()?;
                let (args, height) = if self.tok == Token::RParen {
                    (Vec::new(), 0)
                } else {
                    self.expr_list()?
                };
                self.check_match(&Token::RParen, &Token::LParen, line)?;
                Ok((args, height))
            }
            Token::LBrace => {
                let (table, height) = self.table()?;
                Ok((vec![table], height))
            }
            Token::Str(_) => {
                let str_line = self.line();
                let s = self.take_string()?;
                Ok((vec![Expr::new(ExprKind::Str(s), str_line)], 1))
            }
            _ => Err(self.error_near("function arguments expected")),
        }
    }

    /// table → `{` [ field { (`,` | `;`) field } [`,` | `;`] ] `}`
    fn table(&mut self) -> PResult<Tall<Expr>> {
        let line = self.line();
        self.check_next(&Token::LBrace)?;
        let mut fields = Vec::new();
        let mut height = 0;
        while self.tok != Token::RBrace {
            let (field, h) = self.field()?;
            fields.push(field);
            height = height.max(h);
            if !(self.test_next(&Token::Comma)? || self.test_next(&Token::Semicolon)?) {
                break;
            }
        }
        self.check_match(&Token::RBrace, &Token::LBrace, line)?;
        let mut table = Expr::new(ExprKind::Table(fields), line);
        table.end_line = self.last_line;
        Ok((table, height + 1))
    }

    /// field → name `=` expr | `[` expr `]` `=` expr | expr
    fn field(&mut self) -> PResult<Tall<TableField>> {
        let named = matches!(self.tok, Token::Name(_)) && self.peek_is(&Token::Assign)?;
        if named {
            let name = self.check_name()?;
            self.check_next(&Token::Assign)?;
            let (value, h) = self.expr()?;
            return Ok((TableField::Named(name, value), h));
        }
        if self.test_next(&Token::LBracket)? {
            let (key, hk) = self.expr()?;
            self.check_next(&Token::RBracket)?;
            self.check_next(&Token::Assign)?;
            let (value, hv) = self.expr()?;
            return Ok((TableField::Keyed(key, value), hk.max(hv)));
        }
        let (value, h) = self.expr()?;
        Ok((TableField::Pos(value), h))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses with the source itself as chunk name (as `load(s)` does).
    fn ok(src: &str) -> FuncBody {
        match parse(src.as_bytes(), src.as_bytes()) {
            Ok(f) => f,
            Err(e) => panic!("{src:?}: {}", e.message),
        }
    }

    fn err(src: &str) -> String {
        match parse(src.as_bytes(), src.as_bytes()) {
            Ok(f) => panic!("{src:?} parsed: {f:?}"),
            Err(e) => e.message,
        }
    }

    /// The error message without the `[string "..."]:` prefix.
    fn err_msg(src: &str) -> String {
        let full = err(src);
        let prefix = format!("{}:", crate::chunkid::chunk_id(src.as_bytes()));
        full.strip_prefix(&prefix)
            .map(str::to_string)
            .unwrap_or(full)
    }

    /// A compact S-expression form of an expression, for precedence tests.
    fn show(e: &Expr) -> String {
        use ExprKind::*;
        let list = |es: &[Expr]| es.iter().map(show).collect::<Vec<_>>().join(" ");
        match &e.kind {
            Nil => "nil".into(),
            True => "true".into(),
            False => "false".into(),
            Vararg => "...".into(),
            Int(i) => i.to_string(),
            Float(f) => format!("{f:?}"),
            Str(s) => format!("{:?}", String::from_utf8_lossy(s)),
            Function(_) => "<fn>".into(),
            Table(fields) => {
                let fs: Vec<String> = fields
                    .iter()
                    .map(|f| match f {
                        TableField::Pos(v) => show(v),
                        TableField::Named(n, v) => format!("{n}={}", show(v)),
                        TableField::Keyed(k, v) => format!("[{}]={}", show(k), show(v)),
                    })
                    .collect();
                format!("{{{}}}", fs.join(" "))
            }
            Binary(op, a, b) => {
                let op = match op {
                    BinOp::Or => "or",
                    BinOp::And => "and",
                    BinOp::Lt => "<",
                    BinOp::Gt => ">",
                    BinOp::Le => "<=",
                    BinOp::Ge => ">=",
                    BinOp::Ne => "~=",
                    BinOp::Eq => "==",
                    BinOp::BOr => "|",
                    BinOp::BXor => "~",
                    BinOp::BAnd => "&",
                    BinOp::Shl => "<<",
                    BinOp::Shr => ">>",
                    BinOp::Concat => "..",
                    BinOp::Add => "+",
                    BinOp::Sub => "-",
                    BinOp::Mul => "*",
                    BinOp::Div => "/",
                    BinOp::IDiv => "//",
                    BinOp::Mod => "%",
                    BinOp::Pow => "^",
                };
                format!("({op} {} {})", show(a), show(b))
            }
            Unary(op, a) => {
                let op = match op {
                    UnOp::Neg => "neg",
                    UnOp::Not => "not",
                    UnOp::Len => "#",
                    UnOp::BNot => "bnot",
                };
                format!("({op} {})", show(a))
            }
            Name(n) => n.to_string(),
            Index(o, k) => format!("{}[{}]", show(o), show(k)),
            Call(f, args) => format!("{}({})", show(f), list(args)),
            MethodCall(o, m, args) => format!("{}:{m}({})", show(o), list(args)),
            Paren(e) => format!("<{}>", show(e)),
        }
    }

    /// Parses `return <src>` and shows the single returned expression.
    fn expr(src: &str) -> String {
        let f = ok(&format!("return {src}"));
        let ret = f.body.ret.expect("return");
        assert_eq!(ret.exprs.len(), 1);
        show(&ret.exprs[0])
    }

    fn first_expr(src: &str) -> Expr {
        let mut f = ok(&format!("return {src}"));
        f.body.ret.take().expect("return").exprs.remove(0)
    }

    #[test]
    fn precedence() {
        assert_eq!(expr("1+2*3"), "(+ 1 (* 2 3))");
        assert_eq!(expr("1*2+3"), "(+ (* 1 2) 3)");
        assert_eq!(expr("2^3^2"), "(^ 2 (^ 3 2))");
        assert_eq!(expr("-2^2"), "(neg (^ 2 2))");
        assert_eq!(expr("2^-3"), "(^ 2 (neg 3))");
        assert_eq!(expr("-x^-y^z"), "(neg (^ x (neg (^ y z))))");
        assert_eq!(expr("a..b..c"), "(.. a (.. b c))");
        assert_eq!(expr("not a == b"), "(== (not a) b)");
        assert_eq!(expr("1 << 2 + 3"), "(<< 1 (+ 2 3))");
        assert_eq!(expr("a or b and c"), "(or a (and b c))");
        assert_eq!(expr("a and b or c"), "(or (and a b) c)");
        assert_eq!(expr("a < b == c"), "(== (< a b) c)");
        assert_eq!(expr("1 - 2 - 3"), "(- (- 1 2) 3)");
        assert_eq!(expr("8 // 3 % 2 / 1"), "(/ (% (// 8 3) 2) 1)");
        assert_eq!(expr("a | b ~ c & d"), "(| a (~ b (& c d)))");
        assert_eq!(expr("a & b << c"), "(& a (<< b c))");
        assert_eq!(expr("a << b >> c"), "(>> (<< a b) c)");
        assert_eq!(expr("a .. b + c"), "(.. a (+ b c))");
        assert_eq!(expr("1 + 2 .. 3"), "(.. (+ 1 2) 3)");
        assert_eq!(expr("a .. b << c"), "(<< (.. a b) c)");
        assert_eq!(expr("a == b | c"), "(== a (| b c))");
        assert_eq!(expr("#t + 1"), "(+ (# t) 1)");
        assert_eq!(expr("#~-not a"), "(# (bnot (neg (not a))))");
        assert_eq!(expr("- - 1"), "(neg (neg 1))");
        assert_eq!(expr("~a ~ ~b"), "(~ (bnot a) (bnot b))");
        assert_eq!(expr("a >= b ~= c <= d > e"), "(> (<= (~= (>= a b) c) d) e)");
        assert_eq!(expr("(a + b) * c"), "(* <(+ a b)> c)");
        assert_eq!(expr("2^3*4"), "(* (^ 2 3) 4)");
        assert_eq!(expr("-a.b^c:d()"), "(neg (^ a[\"b\"] c:d()))");
        assert_eq!(expr("not nil == false"), "(== (not nil) false)");
    }

    #[test]
    fn literals() {
        assert_eq!(expr("nil"), "nil");
        assert_eq!(expr("true"), "true");
        assert_eq!(expr("false"), "false");
        assert_eq!(expr("..."), "...");
        assert_eq!(expr("1"), "1");
        assert_eq!(expr("- 1"), "(neg 1)");
        assert_eq!(expr("1.5"), "1.5");
        assert_eq!(expr("0xff"), "255");
        assert_eq!(expr("9223372036854775808"), "9.223372036854776e18");
        assert_eq!(expr("'a\\tb'"), "\"a\\tb\"");
        assert_eq!(expr("[[x]]"), "\"x\"");
        assert_eq!(first_expr("'\\xff'").kind, ExprKind::Str(Box::new([0xff])));
        assert_eq!(expr("function() end"), "<fn>");
    }

    #[test]
    fn suffixes_and_calls() {
        assert_eq!(expr("a.b.c"), "a[\"b\"][\"c\"]");
        assert_eq!(expr("a[1][b]"), "a[1][b]");
        assert_eq!(expr("f()"), "f()");
        assert_eq!(expr("f(1, 2, ...)"), "f(1 2 ...)");
        assert_eq!(expr("f'x'"), "f(\"x\")");
        assert_eq!(expr("f[[x]]"), "f(\"x\")");
        assert_eq!(expr("f{1}"), "f({1})");
        assert_eq!(expr("o:m(1)"), "o:m(1)");
        assert_eq!(expr("o:m'x'"), "o:m(\"x\")");
        assert_eq!(expr("o:m{}"), "o:m({})");
        assert_eq!(
            expr("f()()'a'{}.x:y()[z]"),
            "f()()(\"a\")({})[\"x\"]:y()[z]"
        );
        assert_eq!(expr("(f)()"), "<f>()");
        assert_eq!(expr("(f())"), "<f()>");
        assert_eq!(expr("('s'):len()"), "<\"s\">:len()");
    }

    #[test]
    fn tables() {
        assert_eq!(expr("{}"), "{}");
        assert_eq!(expr("{1, 2; 3,}"), "{1 2 3}");
        assert_eq!(expr("{x = 1, [2] = 3; y}"), "{x=1 [2]=3 y}");
        assert_eq!(expr("{x == 1}"), "{(== x 1)}");
        assert_eq!(expr("{f(x), ...}"), "{f(x) ...}");
        assert_eq!(expr("{{}, {{}}}"), "{{} {{}}}");
        assert_eq!(expr("{x}"), "{x}");
        assert_eq!(expr("{x;}"), "{x}");
    }

    #[test]
    fn statements() {
        let f = ok("local a <const>, b <close>, c = 1, 2\n\
                    a.b, c[1] = f()\n\
                    f(1) o:m()\n\
                    do ; end\n\
                    while x do break end\n\
                    repeat local y until y\n\
                    if a then elseif b then else end\n\
                    for i = 1, 2 do end for i = 1, 2, 3 do end\n\
                    for k, v in pairs(t) do end\n\
                    function a.b.c:m(x, ...) return self end\n\
                    function f() end\n\
                    local function g(...) return ... end\n\
                    goto l ::l::\n\
                    return 1;");
        let stats = &f.body.stats;
        assert_eq!(stats.len(), 16);
        match &stats[0] {
            Stat::Local {
                names, exprs, line, ..
            } => {
                let expected: Vec<(Name, Attrib)> = vec![
                    ("a".into(), Attrib::Const),
                    ("b".into(), Attrib::Close),
                    ("c".into(), Attrib::None),
                ];
                assert_eq!(names, &expected);
                assert_eq!(exprs.len(), 2);
                assert_eq!(*line, 1);
            }
            s => panic!("{s:?}"),
        }
        match &stats[1] {
            Stat::Assign {
                targets,
                exprs,
                line,
                ..
            } => {
                assert_eq!(
                    targets.iter().map(show).collect::<Vec<_>>(),
                    ["a[\"b\"]", "c[1]"]
                );
                assert_eq!(exprs.iter().map(show).collect::<Vec<_>>(), ["f()"]);
                assert_eq!(*line, 2);
            }
            s => panic!("{s:?}"),
        }
        assert!(matches!(&stats[2], Stat::Call(e) if show(e) == "f(1)"));
        assert!(matches!(&stats[3], Stat::Call(e) if show(e) == "o:m()"));
        assert!(matches!(&stats[4], Stat::Do(b) if b.stats.is_empty() && b.ret.is_none()));
        assert!(matches!(&stats[5], Stat::While { body, line: 5, .. }
            if matches!(body.stats[..], [Stat::Break { line: 5 }])));
        assert!(matches!(&stats[6], Stat::Repeat { body, cond, line: 6, .. }
            if body.stats.len() == 1 && show(cond) == "y"));
        match &stats[7] {
            Stat::If {
                arms,
                else_block,
                line,
            } => {
                assert_eq!(arms.len(), 2);
                assert!(else_block.is_some());
                assert_eq!(*line, 7);
            }
            s => panic!("{s:?}"),
        }
        assert!(matches!(&stats[8], Stat::NumFor { var, step: None, .. } if &**var == "i"));
        assert!(matches!(&stats[9], Stat::NumFor { step: Some(_), .. }));
        match &stats[10] {
            Stat::GenFor { names, exprs, .. } => {
                assert_eq!(names, &vec![Name::from("k"), Name::from("v")]);
                assert_eq!(exprs.iter().map(show).collect::<Vec<_>>(), ["pairs(t)"]);
            }
            s => panic!("{s:?}"),
        }
        match &stats[11] {
            Stat::Function {
                path,
                method,
                func,
                line,
            } => {
                assert_eq!(
                    path,
                    &vec![Name::from("a"), Name::from("b"), Name::from("c")]
                );
                assert_eq!(method.as_deref(), Some("m"));
                assert!(func.is_method && func.is_vararg);
                assert_eq!(func.params, vec![Name::from("self"), Name::from("x")]);
                assert_eq!((*line, func.line, func.end_line), (10, 10, 10));
            }
            s => panic!("{s:?}"),
        }
        match &stats[12] {
            Stat::Function {
                path, method, func, ..
            } => {
                assert_eq!(path, &vec![Name::from("f")]);
                assert!(method.is_none() && !func.is_method && !func.is_vararg);
                assert!(func.params.is_empty());
            }
            s => panic!("{s:?}"),
        }
        match &stats[13] {
            Stat::LocalFunction { name, func, line } => {
                assert_eq!(&**name, "g");
                assert!(func.is_vararg && func.params.is_empty());
                assert_eq!(*line, 12);
            }
            s => panic!("{s:?}"),
        }
        assert!(matches!(&stats[14], Stat::Goto { label, line: 13 } if &**label == "l"));
        assert!(matches!(&stats[15], Stat::Label { name, line: 13 } if &**name == "l"));
        let ret = f.body.ret.as_ref().unwrap();
        assert_eq!((ret.exprs.len(), ret.line), (1, 14));
        assert_eq!((f.line, f.end_line, f.is_vararg), (0, 14, true));
        assert!(f.params.is_empty() && !f.is_method);
    }

    #[test]
    fn returns() {
        for src in [
            "return",
            "return;",
            "do return end",
            "return 1, 2",
            "if x then return end",
        ] {
            ok(src);
        }
        assert!(ok("return").body.ret.unwrap().exprs.is_empty());
        assert!(ok("return;").body.ret.unwrap().exprs.is_empty());
        let f = ok("repeat return until x");
        assert!(matches!(&f.body.stats[0], Stat::Repeat { body, .. } if body.ret.is_some()));
    }

    #[test]
    fn empty_chunks() {
        let f = ok("");
        assert_eq!((f.line, f.end_line), (0, 1));
        assert!(f.body.stats.is_empty() && f.body.ret.is_none());
        assert_eq!(ok(";;;").body.stats.len(), 0);
        // The main chunk ends on the line of its last token (1 without tokens), as PUC's
        // final `RETURN`.
        assert_eq!(ok("\n\n-- x\n").end_line, 1);
        assert_eq!(ok("a = 1\n\nb = 2 -- x\n\n").end_line, 3);
    }

    #[test]
    fn lines() {
        // Binary and unary operators get the operator's line.
        let e = first_expr("a\n+\nb");
        assert_eq!(e.line, 2);
        let e = first_expr("\n-\nb");
        assert_eq!(e.line, 2);
        // Calls get the line of their arguments (PUC 5.4.8).
        let e = first_expr("f\n(1)");
        assert_eq!(e.line, 2);
        let e = first_expr("t\n.a\n:m\n(1)");
        assert_eq!(e.line, 4);
        let e = first_expr("f\n{}");
        assert_eq!(e.line, 2);
        let e = first_expr("t\n.a");
        assert_eq!(e.line, 2);
        let e = first_expr("t\n[\n1]");
        assert_eq!(e.line, 2);
        let e = first_expr("{\n}");
        assert_eq!(e.line, 1);
        // Function expressions: the `function` keyword; the body: the token after it.
        let e = first_expr("function\n\n(a)\nend");
        assert_eq!(e.line, 1);
        let ExprKind::Function(f) = e.kind else {
            panic!()
        };
        assert_eq!((f.line, f.end_line), (3, 4));
        let f = ok("local function g\n()\n\nend");
        let Stat::LocalFunction { func, line, .. } = &f.body.stats[0] else {
            panic!()
        };
        assert_eq!((*line, func.line, func.end_line), (1, 2, 4));
        let f = ok("\nfunction\ng\n()\n\nend");
        let Stat::Function { func, line, .. } = &f.body.stats[0] else {
            panic!()
        };
        assert_eq!((*line, func.line, func.end_line), (2, 2, 6));
        // Long strings end on a later line than they start.
        let e = first_expr("[[\na\nb]]");
        assert_eq!(e.line, 3);
        // Line breaks of all kinds.
        let f = ok("a = 1\r\nb = 2\n\rc = 3\rd = 4");
        let lines: Vec<Line> = f
            .body
            .stats
            .iter()
            .map(|s| match s {
                Stat::Assign { line, .. } => *line,
                _ => 0,
            })
            .collect();
        assert_eq!(lines, [1, 2, 3, 4]);
        assert_eq!(f.end_line, 4);
    }

    /// Messages checked against `lua5.4` (5.4.4) with `load(src)`.
    #[test]
    fn error_messages_match_puc() {
        let cases: &[(&str, &str)] = &[
            ("x = = 1", "1: unexpected symbol near '='"),
            ("f(", "1: unexpected symbol near <eof>"),
            ("if x then", "1: 'end' expected near <eof>"),
            (
                "if x then\n",
                "2: 'end' expected (to close 'if' at line 1) near <eof>",
            ),
            (
                "if x\nthen\n",
                "3: 'end' expected (to close 'if' at line 1) near <eof>",
            ),
            ("local t = {1,2", "1: '}' expected near <eof>"),
            ("f(1,2", "1: ')' expected near <eof>"),
            (
                "f(\n1,2 x",
                "2: ')' expected (to close '(' at line 1) near 'x'",
            ),
            // 5.4.8: a call's line is that of its '('.
            ("f\n(1,2 x", "2: ')' expected near 'x'"),
            ("x = 1 2", "1: unexpected symbol near '2'"),
            ("local x <foo> = 1", "1: unknown attribute 'foo'"),
            ("for a do", "1: '=' or 'in' expected near 'do'"),
            ("goto = 1", "1: <name> expected near '='"),
            ("f() = 1", "1: syntax error near '='"),
            ("x", "1: syntax error near <eof>"),
            (
                "local a <close>, b <close> = 1, 2",
                "1: multiple to-be-closed variables in local list",
            ),
            (
                "local x <close>, y <close>\n\n z",
                "3: multiple to-be-closed variables in local list",
            ),
            ("local x <const\n\n> y", "3: syntax error near <eof>"),
            ("x = \"abc", "1: unfinished string near <eof>"),
            ("x = \"abc\ny", "1: unfinished string near '\"abc'"),
            ("x = [=abc", "1: invalid long string delimiter near '[='"),
            ("x = 3x", "1: malformed number near '3x'"),
            ("x = \u{7f}", "1: unexpected symbol near '<\\127>'"),
            ("x = @", "1: unexpected symbol near '@'"),
            ("x = $", "1: unexpected symbol near '$'"),
            ("x = \u{1}", "1: unexpected symbol near '<\\1>'"),
            (
                "local function f() return 1 x end",
                "1: 'end' expected near 'x'",
            ),
            ("return return", "1: unexpected symbol near 'return'"),
            ("x = function", "1: '(' expected near <eof>"),
            ("local 1", "1: <name> expected near '1'"),
            ("a.b:c = 1", "1: function arguments expected near '='"),
            ("goto 1", "1: <name> expected near '1'"),
            ("for i = 1 do end", "1: ',' expected near 'do'"),
            ("for i in do end", "1: unexpected symbol near 'do'"),
            ("for 1", "1: <name> expected near '1'"),
            ("a, b", "1: '=' expected near <eof>"),
            ("a, b() = 1", "1: syntax error near '='"),
            ("(a) = 1", "1: syntax error near '='"),
            ("a.b, (c) = 1", "1: syntax error near '='"),
            ("local function 1", "1: <name> expected near '1'"),
            ("function a:b:c() end", "1: '(' expected near ':'"),
            ("x = {a = }", "1: unexpected symbol near '}'"),
            ("x = {[1] 2}", "1: '=' expected near '2'"),
            ("x = 1 + ", "1: unexpected symbol near <eof>"),
            ("x = a.1", "1: unexpected symbol near '.1'"),
            ("x = a:b", "1: function arguments expected near <eof>"),
            ("x = a:b.c", "1: function arguments expected near '.'"),
            ("repeat x = 1", "1: 'until' expected near <eof>"),
            ("repeat x = 1 until", "1: unexpected symbol near <eof>"),
            ("while true", "1: 'do' expected near <eof>"),
            ("while true do", "1: 'end' expected near <eof>"),
            ("if a then elseif b end", "1: 'then' expected near 'end'"),
            (
                "function f() x = ... end",
                "1: cannot use '...' outside a vararg function near '...'",
            ),
            ("x = 1 \"a\\65\"", "1: unexpected symbol near '\"aA\"'"),
            (
                "x = 1 [==[\nab\r\ncd]==]",
                "3: unexpected symbol near '[==[ab\ncd]==]'",
            ),
            ("x = 1 0x10", "1: unexpected symbol near '0x10'"),
            ("x = 1 end", "1: <eof> expected near 'end'"),
            ("return 1 x", "1: <eof> expected near 'x'"),
            ("f\n'abc' x", "2: syntax error near <eof>"),
            (
                "x = {a\n\n b}",
                "3: '}' expected (to close '{' at line 1) near 'b'",
            ),
            ("x = 'a\\\nb' y", "2: syntax error near <eof>"),
            ("x = 1\r\n\r\ny = = 2", "3: unexpected symbol near '='"),
            ("x = 1\n\r\n\ry = = 2", "3: unexpected symbol near '='"),
            ("x = 1\r\r\ry = = 2", "4: unexpected symbol near '='"),
            ("--[=x\ny = = 2", "2: unexpected symbol near '='"),
            ("--[[\n\n]] y = = 2", "3: unexpected symbol near '='"),
            ("x = function\n(a) end end", "2: <eof> expected near 'end'"),
            (
                "local function f(a, ..., b) end",
                "1: ')' expected near ','",
            ),
            (
                "local function f(1) end",
                "1: <name> or '...' expected near '1'",
            ),
            (
                "local function f(a,) end",
                "1: <name> or '...' expected near ')'",
            ),
            ("x = {,}", "1: unexpected symbol near ','"),
            ("x = {1,,}", "1: unexpected symbol near ','"),
            ("x = {[1]=2;3,} end", "1: <eof> expected near 'end'"),
            ("x = ~= 1", "1: unexpected symbol near '~='"),
            ("x = 1 ~ = 1", "1: unexpected symbol near '='"),
            ("x = a:b'c' 1", "1: unexpected symbol near '1'"),
            ("x = a.b.c:d(e)[f] 1", "1: unexpected symbol near '1'"),
            ("for a, b = 1, 2 do end", "1: 'in' expected near '='"),
            ("for a.b = 1, 2 do end", "1: '=' or 'in' expected near '.'"),
            ("for a = 1, 2, 3, 4 do end", "1: 'do' expected near ','"),
            (
                "if a then else elseif b then end",
                "1: 'end' expected near 'elseif'",
            ),
            ("return;;", "1: <eof> expected near ';'"),
            ("return 1, 2,", "1: unexpected symbol near <eof>"),
            ("::a:: b", "1: syntax error near <eof>"),
            ("::a b", "1: '::' expected near 'b'"),
            ("function a.b:c.d() end", "1: '(' expected near '.'"),
            ("function () end", "1: <name> expected near '('"),
            ("local function() end", "1: <name> expected near '('"),
            ("x = a b", "1: syntax error near <eof>"),
            (
                "\"\\u{7FFFFFFF}\" x",
                "1: unexpected symbol near '\"\u{fffd}\u{fffd}\u{fffd}\u{fffd}\u{fffd}\u{fffd}\"'",
            ),
            ("x = - - - ", "1: unexpected symbol near <eof>"),
            ("do end end", "1: <eof> expected near 'end'"),
            (
                "do\n\nx = 1",
                "3: 'end' expected (to close 'do' at line 1) near <eof>",
            ),
            (
                "while 1\ndo\n",
                "3: 'end' expected (to close 'while' at line 1) near <eof>",
            ),
            (
                "for i=1,2 do\n",
                "2: 'end' expected (to close 'for' at line 1) near <eof>",
            ),
            (
                "repeat\n",
                "2: 'until' expected (to close 'repeat' at line 1) near <eof>",
            ),
            (
                "x = function()\n",
                "2: 'end' expected (to close 'function' at line 1) near <eof>",
            ),
            ("x = {\n", "2: unexpected symbol near <eof>"),
            (
                "x = {1\n",
                "2: '}' expected (to close '{' at line 1) near <eof>",
            ),
            (
                "x = (1\n",
                "2: ')' expected (to close '(' at line 1) near <eof>",
            ),
            ("x = a[1", "1: ']' expected near <eof>"),
            ("local x <const> <close>", "1: unexpected symbol near '<'"),
            ("local x < const", "1: '>' expected near <eof>"),
            ("x.y", "1: syntax error near <eof>"),
            ("x:y", "1: function arguments expected near <eof>"),
            ("1 = x", "1: unexpected symbol near '1'"),
            ("x = ... ...", "1: unexpected symbol near '...'"),
        ];
        for (src, expected) in cases {
            assert_eq!(&err_msg(src), expected, "source: {src:?}");
        }
        // The chunk name is formatted as PUC's chunkid.
        assert_eq!(
            parse(b"x = = 1", b"@file.lua").unwrap_err().message,
            "file.lua:1: unexpected symbol near '='"
        );
        assert_eq!(
            parse(b"x = = 1", b"=stdin").unwrap_err().to_string(),
            "stdin:1: unexpected symbol near '='"
        );
        assert_eq!(
            err("x = \u{80}"),
            "[string \"x = \u{80}\"]:1: unexpected symbol near '<\\194>'"
        );
    }

    /// Scoping checks made while parsing, checked against `lua5.4` (5.4.4):
    /// `None` means the chunk is accepted.
    #[test]
    fn scoping_errors_match_puc() {
        let locals = |n: usize| "local a ".repeat(n);
        let many_names = format!("local a {}", ", a".repeat(200));
        let many_params = format!("function f(a {}) end", ", a".repeat(200));
        let cases: Vec<(String, Option<&str>)> = vec![
            (
                "::a::\n::a::\n\n".into(),
                Some("t:4: label 'a' already defined on line 2"),
            ),
            (
                "::a:: do ::a:: end".into(),
                Some("t:1: label 'a' already defined on line 1"),
            ),
            (
                "::l:: ::m:: ::l::".into(),
                Some("t:1: label 'l' already defined on line 1"),
            ),
            ("do ::a:: end ::a::".into(), None),
            (
                "function f() goto x end\n\n\nx=1".into(),
                Some("t:4: no visible label 'x' for <goto> at line 1"),
            ),
            (
                "goto x\n local y\n ::x:: print(y)".into(),
                Some("t:3: <goto x> at line 1 jumps into the scope of local 'y'"),
            ),
            ("goto x\n local y\n ::x::".into(), None),
            ("goto x\n local y\n ::x:: ;;".into(), None),
            (
                "repeat goto c\n local y\n ::c:: until y".into(),
                Some("t:3: <goto c> at line 1 jumps into the scope of local 'y'"),
            ),
            ("repeat local x; goto e; ::e:: until x".into(), None),
            ("while x do goto e; local z; ::e:: end".into(), None),
            ("while x do goto e; local z; ::e:: ; end".into(), None),
            ("while x do goto e; local z; ::e:: ::f:: end".into(), None),
            (
                "for i=1,2 do if i then goto c end local q = 1 ::c:: end".into(),
                None,
            ),
            ("for i = 1, 2 do goto l end ::l::".into(), None),
            ("goto e; do local z end ::e::".into(), None),
            ("local x; goto e; ::e:: local y".into(), None),
            ("do goto l end; ::l:: local x".into(), None),
            ("x = 1 ::l:: goto l".into(), None),
            (
                "do goto e end do ::e:: end".into(),
                Some("t:1: no visible label 'e' for <goto> at line 1"),
            ),
            (
                "goto l; do ::l:: end".into(),
                Some("t:1: no visible label 'l' for <goto> at line 1"),
            ),
            (
                "local function f() goto e end ::e::".into(),
                Some("t:1: no visible label 'e' for <goto> at line 1"),
            ),
            (
                "::e:: local function f() goto e end".into(),
                Some("t:1: no visible label 'e' for <goto> at line 1"),
            ),
            (
                "do goto l end; local x; ::l:: x = 1".into(),
                Some("t:1: <goto l> at line 1 jumps into the scope of local 'x'"),
            ),
            (
                "goto e; local x <const> = 1; ::e:: print(x)".into(),
                Some("t:1: <goto e> at line 1 jumps into the scope of local 'x'"),
            ),
            (
                "while true do break end break".into(),
                Some("t:1: break outside loop at line 1"),
            ),
            (
                "local function f() break end".into(),
                Some("t:1: break outside loop at line 1"),
            ),
            (
                "if x then break end".into(),
                Some("t:1: break outside loop at line 1"),
            ),
            (
                "while x do local f = function() break end end".into(),
                Some("t:1: break outside loop at line 1"),
            ),
            ("repeat if x then break end until y".into(), None),
            (
                "local x <const> = 1\nlocal function f() x = 2 end".into(),
                Some("t:2: attempt to assign to const variable 'x'"),
            ),
            (
                "local x <close> = nil; x\n,\ny = 1, 2".into(),
                Some("t:2: attempt to assign to const variable 'x'"),
            ),
            (
                "local x <const> = 1; do local x = 2 end x = 3".into(),
                Some("t:1: attempt to assign to const variable 'x'"),
            ),
            (
                "local x <const> = x; x = 2".into(),
                Some("t:1: attempt to assign to const variable 'x'"),
            ),
            (
                "local x <const> = 1; y, x = 1, 2".into(),
                Some("t:1: attempt to assign to const variable 'x'"),
            ),
            ("local x <const> = 1; local x = 2; x = 3".into(), None),
            (
                "local x <const> = 1; local y = function() local x; x = 1 end".into(),
                None,
            ),
            ("local x <const> = 1; function f(x) x = 1 end".into(), None),
            (
                "local x <const> = 1; for x = 1, 2 do x = 1 end".into(),
                None,
            ),
            ("local x <const> = 1; local x = x; x = 2".into(), None),
            (
                "local x <const> = 1\nrepeat local x = 1 until (function() x = 2 end)".into(),
                None,
            ),
            ("local x <const> = 1; x.y = 1".into(), None),
            (
                "local x <const> = 1; (x) = 1".into(),
                Some("t:1: syntax error near '='"),
            ),
            (
                many_names,
                Some("t:1: too many local variables (limit is 200) in main function near <eof>"),
            ),
            (
                many_params,
                Some("t:1: too many local variables (limit is 200) in function at line 1 near ')'"),
            ),
            (format!("local a = 1 {}", locals(199)), None),
            (
                format!("{}for i = 1, 2 do end", locals(197)),
                Some("t:1: too many local variables (limit is 200) in main function near '='"),
            ),
            (format!("{}for i = 1, 2 do end", locals(196)), None),
            (
                format!("{}for k in x do end", locals(196)),
                Some("t:1: too many local variables (limit is 200) in main function near 'in'"),
            ),
            (format!("{}for k in x do end", locals(195)), None),
            (
                format!("{}for k, v in x do end", locals(195)),
                Some("t:1: too many local variables (limit is 200) in main function near 'in'"),
            ),
            (
                format!("{}local function f() end local b", locals(199)),
                Some("t:1: too many local variables (limit is 200) in main function near <eof>"),
            ),
            (
                format!("{}function f(a) local b end local c", locals(199)),
                None,
            ),
            (format!("{}function f:m() end local c", locals(199)), None),
            ("\0 x".into(), Some("t:1: unexpected symbol")),
            ("x = 1 \0".into(), Some("t:1: unexpected symbol")),
            (
                "x = 1 'a\0b'".into(),
                Some("t:1: unexpected symbol near ''a'"),
            ),
        ];
        for (src, expected) in cases {
            let got = parse(src.as_bytes(), b"=t").err().map(|e| e.message);
            assert_eq!(got.as_deref(), expected, "source: {src:?}");
        }
    }

    #[test]
    fn varargs() {
        ok("x = ...");
        ok("function f(...) return ... end");
        ok("function f(a, ...) return function(...) return ... end end");
        assert_eq!(
            err_msg("function f(...) return function() return ... end end"),
            "1: cannot use '...' outside a vararg function near '...'"
        );
        // The vararg flag is restored after a nested function.
        ok("function f(...) local g = function() end return ... end");
    }

    #[test]
    fn nesting_limit_matches_luac() {
        // `luac5.4 -p` accepts 196 nested parentheses in `return (...)`, 198 nested `do`s.
        let parens = |n: usize| format!("return {}1{}", "(".repeat(n), ")".repeat(n));
        ok(&parens(196));
        assert_eq!(err(&parens(197)), "C stack overflow");
        let dos = |n: usize| format!("{}{}", "do ".repeat(n), " end".repeat(n));
        ok(&dos(198));
        assert_eq!(err(&dos(199)), "C stack overflow");
        // Other nested constructs share the same budget.
        for src in [
            format!("x = {}{}", "{".repeat(300), "}".repeat(300)),
            format!("x = {}1", "- ".repeat(300)),
            format!("x = {}1", "not ".repeat(300)),
            format!("x = {}a", "a..".repeat(300)),
            format!("x = {}a", "a^".repeat(300)),
            format!("a{}=1", ",a".repeat(300)),
            format!("x = {}{}", "f(".repeat(300), ")".repeat(300)),
            format!("x = {}{}", "a[".repeat(300), "]".repeat(300)),
            format!("{}{}", "function f() ".repeat(300), " end".repeat(300)),
            format!("{}{}", "if a then else ".repeat(300), " end".repeat(300)),
            format!("{}{}", "while a do ".repeat(300), " end".repeat(300)),
        ] {
            assert_eq!(err(&src), "C stack overflow", "{}", &src[..40]);
        }
        // The official test suite's `testrep`: 100 levels are fine, 500 are not.
        for (init, rep, close, repc) in [
            ("local a; a", ",a", "= 1", ",1"),
            ("local a; a=", "{", "0", "}"),
            ("return ", "(", "2", ")"),
            (
                "local function a (x) return x end; return ",
                "a(",
                "2.2",
                ")",
            ),
            ("", "do ", "", " end"),
            ("", "while a do ", "", " end"),
            ("local a; ", "if a then else ", "", " end"),
            ("", "function foo () ", "", " end"),
            ("local a = ''; return ", "a..", "'a'", ""),
            ("local a = 1; return ", "a^", "a", ""),
        ] {
            ok(&format!(
                "{init}{}{close}{}",
                rep.repeat(100),
                repc.repeat(100)
            ));
            let msg = err(&format!("{init}{}", rep.repeat(500)));
            assert!(
                msg.contains("overflow") || msg.contains("too many"),
                "{msg}"
            );
        }
    }

    #[test]
    fn huge_inputs_do_not_overflow_the_stack() {
        // Run with a small stack to make sure the nesting limits keep recursion shallow.
        let handle = std::thread::Builder::new()
            .stack_size(512 * 1024)
            .spawn(|| {
                let n = 100_000;
                let deep = format!("x = {}1{}", "(".repeat(n), ")".repeat(n));
                assert_eq!(err(&deep), "C stack overflow");
                let concat = format!("x = {}a", "a..".repeat(n));
                assert_eq!(err(&concat), "C stack overflow");
                let unary = format!("x = {}a", "- ".repeat(n));
                assert_eq!(err(&unary), "C stack overflow");
                let tables = "{".repeat(n);
                assert_eq!(err(&format!("x = {tables}")), "C stack overflow");
                // Left-associative chains are loops, limited by the tree height.
                let sum = format!("x = {}a", "a+".repeat(n));
                assert!(err(&sum).contains("too many nested expressions (limit is 1000)"));
                let dots = format!("x = a{}", ".b".repeat(n));
                assert!(err(&dots).contains("too many nested expressions"));
                let calls = format!("x = f{}", "()".repeat(n));
                assert!(err(&calls).contains("too many nested expressions"));
                let methods = format!("o{}", ":m()".repeat(n));
                assert!(err(&methods).contains("too many nested expressions"));
                // Long flat constructs are fine.
                ok(&format!("x = {{{}}}", "1,".repeat(n)));
                ok(&"x = 1\n".repeat(n));
                ok(&format!("x = {}a", "a+".repeat(900)));
                // Heights add up through nesting.
                let inner = format!("({}a)", "a+".repeat(600));
                let msg = err(&format!("x = {inner}{}", "+a".repeat(600)));
                assert!(msg.contains("too many nested expressions"), "{msg}");
            })
            .unwrap();
        handle.join().unwrap();
    }

    #[test]
    fn height_limit_message() {
        let src = format!("local x = {}a", "a+".repeat(1000));
        assert_eq!(
            err_msg(&src),
            "1: too many nested expressions (limit is 1000) in main function near <eof>"
        );
        let src = format!("function f()\nlocal x = {}a end", "a*".repeat(1000));
        assert_eq!(
            err_msg(&src),
            "2: too many nested expressions (limit is 1000) in function at line 1 near 'end'"
        );
    }

    #[test]
    fn label_and_goto_counts_are_limited_like_puc() {
        let gotos = "goto l ".repeat(40_000);
        assert_eq!(err(&gotos), "too many labels/gotos (limit is 32767)");
        let breaks = format!("while x do {} end", "if x then break end ".repeat(40_000));
        assert_eq!(err(&breaks), "too many labels/gotos (limit is 32767)");
        let gotos = format!("{} ::l::", "goto l ".repeat(30_000));
        ok(&gotos);
    }

    /// A deterministic xorshift generator (no external crates).
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    const SAMPLE: &str = r#"
local a <const>, b <close> = 1, nil
local t = {1, 2; x = "s\n\65", [f(1)] = {}, 0x1p4, .5, [[long
string]], ...}
function t.a.b:m(x, y, ...) return self, x + y * 2 ^ -3 .. "z" end
local function g(...) return select('#', ...) end
for i = 1, 10, 2 do if i % 2 == 0 then break elseif i > 5 then goto done else end end
for k, v in pairs(t) do t[k] = v and not v or #v << 1 >> 2 & 3 | 4 ~ ~5 // 6 end
while x ~= nil and x <= 3 and x >= 1 or x < 0 do x = x - 1 end
repeat local z = z until z
::done:: do local s = t:m"x" .. t:m{} .. (f)(1)[2].c end
return g(a, b), -(1), #t
"#;

    #[test]
    fn sample_program_parses() {
        let f = ok(SAMPLE);
        assert_eq!(f.body.stats.len(), 10);
        assert_eq!(f.end_line, 12);
    }

    #[test]
    fn no_panics_on_truncations_and_mutations() {
        let src = SAMPLE.as_bytes();
        for end in 0..=src.len() {
            let _ = parse(&src[..end], b"=t");
            let _ = parse(&src[end..], b"=t");
        }
        let mut rng = Rng(0x2545f4914f6cdd1d);
        for _ in 0..3000 {
            let mut m = src.to_vec();
            for _ in 0..1 + rng.below(4) {
                let i = rng.below(m.len());
                match rng.below(3) {
                    0 => m[i] = rng.next() as u8,
                    1 => {
                        m.remove(i);
                    }
                    _ => m.insert(i, b"()[]{}=.,;:'\"\\-+end "[rng.below(20)]),
                }
            }
            let _ = parse(&m, b"=t");
        }
    }

    #[test]
    fn no_panics_on_random_tokens() {
        let words = [
            "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto",
            "if", "in", "local", "nil", "not", "or", "repeat", "return", "then", "true", "until",
            "while", "x", "y", "1", "2.5", "'s'", "[[l]]", "+", "-", "*", "/", "//", "%", "^", "#",
            "&", "~", "|", "<<", ">>", "==", "~=", "<=", ">=", "<", ">", "=", "(", ")", "{", "}",
            "[", "]", "::", ";", ":", ",", ".", "..", "...", "<const>", "\n",
        ];
        let mut rng = Rng(0x853c49e6748fea9b);
        let mut accepted = 0;
        for _ in 0..20_000 {
            let n = 1 + rng.below(12);
            let src: Vec<&str> = (0..n).map(|_| words[rng.below(words.len())]).collect();
            let src = src.join(" ");
            if parse(src.as_bytes(), b"=t").is_ok() {
                accepted += 1;
            }
        }
        assert!(accepted > 0);
        let mut rng = Rng(0xda942042e4dd58b5);
        for _ in 0..20_000 {
            let len = rng.below(24);
            let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            let _ = parse(&bytes, &bytes);
        }
    }
}
