//! The abstract syntax tree produced by [`crate::parse`] and consumed by [`crate::compile`].
//!
//! The tree is deliberately close to the Lua 5.4 grammar. Names are kept as written; scoping
//! (locals, upvalues, globals through `_ENV`) is resolved by the compiler. Every node that can
//! raise a run-time error carries the source line that PUC Lua would report for it.

/// A source line number (1-based).
pub type Line = u32;

/// An identifier as written in the source.
pub type Name = Box<str>;

/// A function body: `function (params) block end`, also the main chunk (vararg, no params).
#[derive(Debug, Clone, PartialEq)]
pub struct FuncBody {
    pub params: Vec<Name>,
    pub is_vararg: bool,
    /// `true` for `function a.b:c() end`: an implicit first parameter `self`
    /// (already included in `params` by the parser).
    pub is_method: bool,
    pub body: Block,
    /// Line of the `function` keyword (0 for the main chunk).
    pub line: Line,
    /// Line of the closing `end` (for the main chunk: the line of its last token, or 1).
    pub end_line: Line,
    /// Line of the last token of the parameter list (`...`), where PUC emits `VARARGPREP`
    /// (1 for the main chunk; unused when the function is not vararg).
    pub vararg_line: Line,
}

/// A sequence of statements, optionally ending with `return`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Block {
    pub stats: Vec<Stat>,
    pub ret: Option<Return>,
    /// Line of the last token read when the block ends (its last statement's last token, or
    /// the token that opened the block if it is empty): where PUC emits the code that leaves
    /// the block.
    pub end_line: Line,
}

/// `return explist`.
#[derive(Debug, Clone, PartialEq)]
pub struct Return {
    pub exprs: Vec<Expr>,
    pub line: Line,
    /// Line of the last token of the expression list (of `return` when it is empty).
    pub end_line: Line,
}

/// Local variable attribute: `<const>` or `<close>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attrib {
    None,
    Const,
    Close,
}

/// A statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Stat {
    /// A function call used as a statement (the expression is always `Call` or `MethodCall`).
    Call(Expr),
    /// `local n1 <attr>, n2 = e1, e2`
    /// `end_line`: line of the last token of the statement (where the values are stored).
    Local {
        names: Vec<(Name, Attrib)>,
        exprs: Vec<Expr>,
        line: Line,
        end_line: Line,
    },
    /// `t1, t2 = e1, e2`; targets are `Name` or `Index` expressions; `end_line` as for `Local`.
    Assign {
        targets: Vec<Expr>,
        exprs: Vec<Expr>,
        line: Line,
        end_line: Line,
    },
    /// `do block end`
    Do(Block),
    /// `while cond do block end`; `cond_line`: line of the condition's last token;
    /// `end_line`: line of `end`.
    While {
        cond: Expr,
        body: Block,
        line: Line,
        cond_line: Line,
        end_line: Line,
    },
    /// `repeat block until cond` (the condition sees the block's locals); `cond_line`: line of
    /// the condition's last token.
    Repeat {
        body: Block,
        cond: Expr,
        line: Line,
        cond_line: Line,
    },
    /// `if c1 then b1 elseif c2 then b2 else b3 end`
    If {
        arms: Vec<IfArm>,
        else_block: Option<Block>,
        line: Line,
    },
    /// `for var = start, limit, step do body end`; `do_line`: line of `do`; `end_line`: line
    /// of `end`.
    NumFor {
        var: Name,
        start: Expr,
        limit: Expr,
        step: Option<Expr>,
        body: Block,
        line: Line,
        do_line: Line,
        end_line: Line,
    },
    /// `for n1, n2 in e1, e2 do body end`; `iter_line` is that of the first token after `in`
    /// (the line PUC gives the iterator call); `do_line` and `end_line` as for `NumFor`.
    GenFor {
        names: Vec<Name>,
        exprs: Vec<Expr>,
        body: Block,
        line: Line,
        iter_line: Line,
        do_line: Line,
        end_line: Line,
    },
    /// `function a.b.c:m() end`: `path` is `[a, b, c]`, `method` is `Some(m)`.
    Function {
        path: Vec<Name>,
        method: Option<Name>,
        func: Box<FuncBody>,
        line: Line,
    },
    /// `local function f() end` (f is in scope inside its own body)
    LocalFunction {
        name: Name,
        func: Box<FuncBody>,
        line: Line,
    },
    /// `break`
    Break { line: Line },
    /// `goto label`
    Goto { label: Name, line: Line },
    /// `::label::`
    Label { name: Name, line: Line },
}

/// `[else]if cond then block` of an `if` statement.
#[derive(Debug, Clone, PartialEq)]
pub struct IfArm {
    pub cond: Expr,
    /// Line of `then` (where PUC emits the condition's test).
    pub then_line: Line,
    pub block: Block,
}

/// Binary operators, in the order of the Lua manual's precedence table (low to high within
/// each group is irrelevant here; the parser handles precedence).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinOp {
    Or,
    And,
    Lt,
    Gt,
    Le,
    Ge,
    Ne,
    Eq,
    BOr,
    BXor,
    BAnd,
    Shl,
    Shr,
    Concat,
    Add,
    Sub,
    Mul,
    Div,
    IDiv,
    Mod,
    Pow,
}

/// Unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnOp {
    /// `-`
    Neg,
    /// `not`
    Not,
    /// `#`
    Len,
    /// `~`
    BNot,
}

/// An expression with the line it starts on (used for error positions).
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub line: Line,
    /// For table constructors and calls: the line of the closing `}` or `)` (PUC completes
    /// the last item or argument there); otherwise equal to `line`.
    pub end_line: Line,
}

/// A field of a table constructor.
#[derive(Debug, Clone, PartialEq)]
pub enum TableField {
    /// `expr` (positional)
    Pos(Expr),
    /// `name = expr` (stored with the name as a string key)
    Named(Name, Expr),
    /// `[k] = v`
    Keyed(Expr, Expr),
}

/// Expression kinds.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Nil,
    True,
    False,
    /// `...`
    Vararg,
    Int(i64),
    Float(f64),
    /// A string literal (byte string, escapes already decoded).
    Str(Box<[u8]>),
    /// `function (...) ... end`
    Function(Box<FuncBody>),
    /// `{ ... }`; `line` of the expression is the `{`.
    Table(Vec<TableField>),
    /// `a op b`; the expression's `line` is the operator's line.
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `op a`; the expression's `line` is the operator's line.
    Unary(UnOp, Box<Expr>),
    /// A variable name (local, upvalue or global: resolved by the compiler).
    Name(Name),
    /// `obj[key]` or `obj.name` (then `key` is a `Str`); `line` is the line of `[` or `.`.
    Index(Box<Expr>, Box<Expr>),
    /// `f(args)`, `f"str"`, `f{table}`; `line` is the line of the call's opening token.
    Call(Box<Expr>, Vec<Expr>),
    /// `obj:name(args)`; `line` is the line of the call's opening token.
    MethodCall(Box<Expr>, Name, Vec<Expr>),
    /// `(expr)`: truncates multiple results to one.
    Paren(Box<Expr>),
}

impl Expr {
    pub fn new(kind: ExprKind, line: Line) -> Self {
        Expr {
            kind,
            line,
            end_line: line,
        }
    }

    /// `true` if the expression can produce several values (call or `...`).
    pub fn is_multi(&self) -> bool {
        matches!(
            self.kind,
            ExprKind::Call(..) | ExprKind::MethodCall(..) | ExprKind::Vararg
        )
    }
}
