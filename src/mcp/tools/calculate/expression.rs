//! The expression language of the `calculate` tool: a recursive-descent parser and evaluator
//! of arithmetic on `f64`, its limits and its errors.
//! (No spec section: the language is this tool's own.)
//!
//! Grammar, loosest binding first:
//!
//! ```text
//! expr    := term (('+' | '-') term)*
//! term    := unary (('*' | '/' | '%') unary)*
//! unary   := ('-' | '+') unary | power
//! power   := primary ('^' unary)?
//! primary := number | constant | function '(' expr ')' | '(' expr ')'
//! ```
//!
//! Precedence follows mathematical convention: `^` binds tighter than unary minus, so
//! `-2^2 = -(2^2) = -4`, and it is right-associative, so `2^3^2 = 2^(3^2) = 512`. An exponent
//! may carry its own sign: `2^-1 = 0.5`. `%` is the remainder with the sign of the dividend.
//!
//! Nothing is ever evaluated as code. Input length and nesting depth are capped so a hostile
//! expression cannot exhaust the stack, and every failure is a message naming the 1-based
//! character position where it happened.

use crate::mcp::tools::math::Transcendental;
use crate::mcp::tools::number::format_number;

/// Longest expression accepted, in characters.
pub const MAX_LEN: usize = 1000;
/// Deepest nesting of parentheses, signs and exponents accepted.
pub const MAX_DEPTH: usize = 100;

const CONSTANTS: &[(&str, f64)] = &[
    ("pi", std::f64::consts::PI),
    ("e", std::f64::consts::E),
    ("tau", std::f64::consts::TAU),
];
pub(super) const FUNCTIONS: &[&str] = &[
    "sqrt", "abs", "ln", "log10", "log2", "exp", "sin", "cos", "tan", "floor", "ceil", "round",
];

/// Why an expression has no value. Positions are 1-based character positions.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CalcError {
    #[error("the expression is empty")]
    Empty,
    #[error("the expression is longer than {MAX_LEN} characters")]
    TooLong,
    #[error("the expression is nested more than {MAX_DEPTH} levels deep")]
    TooDeep,
    #[error("unexpected character '{ch}' at position {pos}")]
    BadChar { ch: char, pos: usize },
    #[error("malformed number '{text}' at position {pos}")]
    BadNumber { text: String, pos: usize },
    #[error("the number at position {pos} is too large")]
    NumberTooLarge { pos: usize },
    #[error("syntax error at position {pos}: expected {expected}, found {found}")]
    Syntax {
        pos: usize,
        expected: &'static str,
        found: String,
    },
    #[error("missing ')' for the '(' at position {open}")]
    Unclosed { open: usize },
    #[error("')' at position {pos} has no matching '('")]
    Unopened { pos: usize },
    #[error("unknown name '{name}' at position {pos} (constants: pi, e, tau; functions: {})", FUNCTIONS.join(", "))]
    UnknownName { name: String, pos: usize },
    #[error("division by zero at position {pos}")]
    DivisionByZero { pos: usize },
    #[error("modulo by zero at position {pos}")]
    ModuloByZero { pos: usize },
    #[error("the result of '{op}' at position {pos} is not a finite number ({why})")]
    NotFinite {
        op: String,
        pos: usize,
        why: &'static str,
    },
}

/// Evaluates `input`, with `math`'s transcendental functions.
pub fn evaluate(input: &str, math: &dyn Transcendental) -> Result<f64, CalcError> {
    if input.chars().count() > MAX_LEN {
        return Err(CalcError::TooLong);
    }
    let tokens = tokenize(input)?;
    if tokens.len() == 1 {
        return Err(CalcError::Empty);
    }
    let mut parser = Parser {
        math,
        tokens,
        next: 0,
        depth: 0,
    };
    let value = parser.expr()?;
    let token = parser.peek();
    match token.kind {
        Kind::End => Ok(value),
        Kind::Close => Err(CalcError::Unopened { pos: token.pos }),
        _ => Err(parser.syntax("an operator or the end of the expression")),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Number(f64),
    Name(String),
    Op(char),
    Open,
    Close,
    End,
}

#[derive(Debug, Clone, PartialEq)]
struct Token {
    kind: Kind,
    /// 1-based character position.
    pos: usize,
}

fn tokenize(input: &str) -> Result<Vec<Token>, CalcError> {
    let chars: Vec<char> = input.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let pos = i + 1;
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() || c == '.' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            // An exponent only when digits follow, so `2e` stays "2 then the name e".
            if i < chars.len() && matches!(chars[i], 'e' | 'E') {
                let mut j = i + 1;
                if j < chars.len() && matches!(chars[j], '+' | '-') {
                    j += 1;
                }
                if j < chars.len() && chars[j].is_ascii_digit() {
                    i = j;
                    while i < chars.len() && chars[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            let text: String = chars[start..i].iter().collect();
            let value = text
                .parse::<f64>()
                .map_err(|_| CalcError::BadNumber { text, pos })?;
            if !value.is_finite() {
                return Err(CalcError::NumberTooLarge { pos });
            }
            tokens.push(Token {
                kind: Kind::Number(value),
                pos,
            });
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push(Token {
                kind: Kind::Name(chars[start..i].iter().collect()),
                pos,
            });
        } else {
            let kind = match c {
                '+' | '-' | '*' | '/' | '%' | '^' => Kind::Op(c),
                '(' => Kind::Open,
                ')' => Kind::Close,
                _ => return Err(CalcError::BadChar { ch: c, pos }),
            };
            tokens.push(Token { kind, pos });
            i += 1;
        }
    }
    tokens.push(Token {
        kind: Kind::End,
        pos: chars.len() + 1,
    });
    Ok(tokens)
}

struct Parser<'m> {
    math: &'m dyn Transcendental,
    tokens: Vec<Token>,
    next: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        // `tokenize` always ends with `End`, and `bump` never moves past it.
        &self.tokens[self.next.min(self.tokens.len() - 1)]
    }

    fn bump(&mut self) -> Token {
        let token = self.peek().clone();
        if self.next < self.tokens.len() - 1 {
            self.next += 1;
        }
        token
    }

    fn syntax(&self, expected: &'static str) -> CalcError {
        let token = self.peek();
        let found = match &token.kind {
            Kind::Number(n) => format!("the number {}", format_number(*n)),
            Kind::Name(n) => format!("'{n}'"),
            Kind::Op(c) => format!("'{c}'"),
            Kind::Open => "'('".to_owned(),
            Kind::Close => "')'".to_owned(),
            Kind::End => "the end of the expression".to_owned(),
        };
        CalcError::Syntax {
            pos: token.pos,
            expected,
            found,
        }
    }

    fn expr(&mut self) -> Result<f64, CalcError> {
        let mut value = self.term()?;
        while let Kind::Op(op @ ('+' | '-')) = self.peek().kind {
            let pos = self.bump().pos;
            let rhs = self.term()?;
            value = finite(
                if op == '+' { value + rhs } else { value - rhs },
                &op.to_string(),
                pos,
            )?;
        }
        Ok(value)
    }

    fn term(&mut self) -> Result<f64, CalcError> {
        let mut value = self.unary()?;
        while let Kind::Op(op @ ('*' | '/' | '%')) = self.peek().kind {
            let pos = self.bump().pos;
            let rhs = self.unary()?;
            value = match op {
                '/' if rhs == 0.0 => return Err(CalcError::DivisionByZero { pos }),
                '%' if rhs == 0.0 => return Err(CalcError::ModuloByZero { pos }),
                '/' => finite(value / rhs, "/", pos)?,
                '%' => finite(value % rhs, "%", pos)?,
                _ => finite(value * rhs, "*", pos)?,
            };
        }
        Ok(value)
    }

    /// Every recursion (parentheses, signs, exponents) passes through here, so the depth check
    /// here bounds the whole parser.
    fn unary(&mut self) -> Result<f64, CalcError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(CalcError::TooDeep);
        }
        let result = match self.peek().kind {
            Kind::Op('-') => {
                self.bump();
                self.unary().map(|v| -v)
            }
            Kind::Op('+') => {
                self.bump();
                self.unary()
            }
            _ => self.power(),
        };
        self.depth -= 1;
        result
    }

    fn power(&mut self) -> Result<f64, CalcError> {
        let base = self.primary()?;
        if let Kind::Op('^') = self.peek().kind {
            let pos = self.bump().pos;
            let exponent = self.unary()?;
            return finite(self.math.pow(base, exponent), "^", pos);
        }
        Ok(base)
    }

    fn primary(&mut self) -> Result<f64, CalcError> {
        let token = self.peek().clone();
        match token.kind {
            Kind::Number(n) => {
                self.bump();
                Ok(n)
            }
            Kind::Open => {
                self.bump();
                let value = self.expr()?;
                self.close(token.pos)?;
                Ok(value)
            }
            Kind::Name(name) => {
                self.bump();
                let lower = name.to_ascii_lowercase();
                if let Some((_, value)) = CONSTANTS.iter().find(|(n, _)| *n == lower) {
                    return Ok(*value);
                }
                if !FUNCTIONS.contains(&lower.as_str()) {
                    return Err(CalcError::UnknownName {
                        name: crate::mcp::jsonrpc::truncate(&name, 40),
                        pos: token.pos,
                    });
                }
                let open = self.peek().pos;
                if self.peek().kind != Kind::Open {
                    return Err(self.syntax("'(' after a function name"));
                }
                self.bump();
                let arg = self.expr()?;
                self.close(open)?;
                apply(self.math, &lower, arg, token.pos)
            }
            Kind::Close => Err(self.unbalanced_close()),
            Kind::End | Kind::Op(_) => Err(self.syntax("a number, a name or '('")),
        }
    }

    /// A ')' where a value should start: unmatched if every '(' so far is already closed,
    /// otherwise a value is simply missing (as in `()`).
    fn unbalanced_close(&self) -> CalcError {
        let token = self.peek();
        let open = self.tokens[..self.next]
            .iter()
            .fold(0i64, |n, t| match t.kind {
                Kind::Open => n + 1,
                Kind::Close => n - 1,
                _ => n,
            });
        if open <= 0 {
            CalcError::Unopened { pos: token.pos }
        } else {
            self.syntax("a number, a name or '('")
        }
    }

    fn close(&mut self, open: usize) -> Result<(), CalcError> {
        match self.peek().kind {
            Kind::Close => {
                self.bump();
                Ok(())
            }
            Kind::End => Err(CalcError::Unclosed { open }),
            _ => Err(self.syntax("')' or an operator")),
        }
    }
}

fn apply(math: &dyn Transcendental, function: &str, x: f64, pos: usize) -> Result<f64, CalcError> {
    let value = match function {
        "sqrt" if x < 0.0 => {
            return Err(CalcError::NotFinite {
                op: "sqrt".into(),
                pos,
                why: "square root of a negative number",
            })
        }
        "ln" | "log10" | "log2" if x <= 0.0 => {
            return Err(CalcError::NotFinite {
                op: function.into(),
                pos,
                why: "logarithm of a number that is not positive",
            })
        }
        "sqrt" => x.sqrt(),
        "abs" => x.abs(),
        "ln" => math.ln(x),
        "log10" => math.log10(x),
        "log2" => math.log2(x),
        "exp" => math.exp(x),
        "sin" => math.sin(x),
        "cos" => math.cos(x),
        "tan" => math.tan(x),
        "floor" => x.floor(),
        "ceil" => x.ceil(),
        _ => x.round(),
    };
    finite(value, function, pos)
}

fn finite(value: f64, op: &str, pos: usize) -> Result<f64, CalcError> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(CalcError::NotFinite {
            op: op.to_owned(),
            pos,
            why: if value.is_nan() {
                "undefined"
            } else {
                "overflow"
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcp::tools::math::RustMath;

    fn eval(s: &str) -> f64 {
        evaluate(s, &RustMath).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn err(s: &str) -> String {
        evaluate(s, &RustMath).unwrap_err().to_string()
    }

    /// Each function answers its own index, so a result shows which one ran and that it
    /// came from the port, not from Rust's `f64` methods.
    struct Marked;

    impl Transcendental for Marked {
        fn ln(&self, _: f64) -> f64 {
            1.0
        }
        fn log10(&self, _: f64) -> f64 {
            10.0
        }
        fn log2(&self, _: f64) -> f64 {
            100.0
        }
        fn exp(&self, _: f64) -> f64 {
            1e3
        }
        fn sin(&self, _: f64) -> f64 {
            1e4
        }
        fn cos(&self, _: f64) -> f64 {
            1e5
        }
        fn tan(&self, _: f64) -> f64 {
            1e6
        }
        fn pow(&self, _: f64, _: f64) -> f64 {
            1e7
        }
    }

    #[test]
    fn every_transcendental_function_comes_from_the_port() {
        let all = "ln(2) + log10(2) + log2(2) + exp(2) + sin(2) + cos(2) + tan(2) + 2^2";
        assert_eq!(evaluate(all, &Marked), Ok(11_111_111.0));
        // The rest is computed here, whatever the port says.
        assert_eq!(
            evaluate(
                "sqrt(4) + abs(-1) + floor(1.5) + ceil(1.5) + round(1.5)",
                &Marked
            ),
            Ok(8.0)
        );
    }

    #[test]
    fn power_is_right_associative() {
        assert_eq!(eval("2^3^2"), 512.0);
    }

    #[test]
    fn power_binds_tighter_than_unary_minus() {
        assert_eq!(eval("-2^2"), -4.0);
        assert_eq!(eval("(-2)^2"), 4.0);
        assert_eq!(eval("2^-1"), 0.5);
        assert_eq!(eval("2^-1^2"), 0.5); // 2^(-(1^2))
    }

    #[test]
    fn usual_precedence_and_associativity() {
        assert_eq!(eval("1 + 2 * 3"), 7.0);
        assert_eq!(eval("(1 + 2) * 3"), 9.0);
        assert_eq!(eval("10 - 4 - 3"), 3.0);
        assert_eq!(eval("64 / 4 / 2"), 8.0);
        assert_eq!(eval("7 % 3"), 1.0);
        assert_eq!(eval("-7 % 3"), -1.0);
        assert_eq!(eval("2 * -3"), -6.0);
        assert_eq!(eval("--3"), 3.0);
        assert_eq!(eval("+4"), 4.0);
    }

    #[test]
    fn numbers_decimals_and_exponent_notation() {
        assert_eq!(eval("1.5e3"), 1500.0);
        assert_eq!(eval("2E-2"), 0.02);
        assert_eq!(eval(".5 + 0.25"), 0.75);
        assert_eq!(eval("3."), 3.0);
    }

    #[test]
    fn constants_and_functions() {
        assert_eq!(eval("pi"), std::f64::consts::PI);
        assert_eq!(eval("e"), std::f64::consts::E);
        assert_eq!(eval("sqrt(16) + abs(-2)"), 6.0);
        assert_eq!(eval("floor(2.7) + ceil(2.1) + round(2.5)"), 8.0);
        assert_eq!(eval("ln(e)"), 1.0);
        assert_eq!(eval("log10(1000)"), 3.0);
        // No implicit multiplication: `2e` is a number followed by a name.
        assert_eq!(
            err("2e"),
            "syntax error at position 2: expected an operator or the end of the expression, found 'e'"
        );
    }

    #[test]
    fn division_and_modulo_by_zero_are_errors() {
        assert_eq!(err("1/0"), "division by zero at position 2");
        assert_eq!(err("1 % (2-2)"), "modulo by zero at position 3");
    }

    #[test]
    fn syntax_errors_say_what_and_where() {
        assert_eq!(
            err("1 + * 2"),
            "syntax error at position 5: expected a number, a name or '(', found '*'"
        );
        assert_eq!(
            err("2 3"),
            "syntax error at position 3: expected an operator or the end of the expression, found the number 3"
        );
        assert_eq!(
            err("1 +"),
            "syntax error at position 4: expected a number, a name or '(', found the end of the expression"
        );
        assert_eq!(err("1 $ 2"), "unexpected character '$' at position 3");
        assert_eq!(err("1..2"), "malformed number '1..2' at position 1");
        assert_eq!(
            err("sqrt 4"),
            "syntax error at position 6: expected '(' after a function name, found the number 4"
        );
    }

    #[test]
    fn unbalanced_parentheses_are_named() {
        assert_eq!(err("(1 + 2"), "missing ')' for the '(' at position 1");
        assert_eq!(err("1 + 2)"), "')' at position 6 has no matching '('");
        assert_eq!(err(")"), "')' at position 1 has no matching '('");
        assert_eq!(
            err("()"),
            "syntax error at position 2: expected a number, a name or '(', found ')'"
        );
        assert_eq!(err("sqrt(4"), "missing ')' for the '(' at position 5");
    }

    #[test]
    fn unknown_identifiers_are_errors() {
        assert!(err("2 * foo").starts_with("unknown name 'foo' at position 5"));
    }

    #[test]
    fn non_finite_results_are_errors() {
        assert_eq!(
            err("10^400"),
            "the result of '^' at position 3 is not a finite number (overflow)"
        );
        assert_eq!(
            err("1e308 * 10"),
            "the result of '*' at position 7 is not a finite number (overflow)"
        );
        assert!(err("sqrt(-1)").contains("square root of a negative number"));
        assert!(err("ln(0)").contains("logarithm"));
        assert!(err("(-8)^(1/3)").contains("undefined"));
        assert_eq!(err("1 + 1e999"), "the number at position 5 is too large");
    }

    #[test]
    fn empty_long_and_deep_inputs_are_refused() {
        assert_eq!(evaluate("   ", &RustMath), Err(CalcError::Empty));
        assert_eq!(evaluate("", &RustMath), Err(CalcError::Empty));
        assert_eq!(
            evaluate(&"1+".repeat(600), &RustMath),
            Err(CalcError::TooLong)
        );
        let deep = format!("{}1{}", "(".repeat(150), ")".repeat(150));
        assert_eq!(evaluate(&deep, &RustMath), Err(CalcError::TooDeep));
        assert_eq!(
            evaluate(&"-".repeat(500), &RustMath),
            Err(CalcError::TooDeep)
        );
        assert_eq!(
            evaluate(&format!("{}1", "2^".repeat(300)), &RustMath),
            Err(CalcError::TooDeep)
        );
        let ok = format!("{}1{}", "(".repeat(90), ")".repeat(90));
        assert_eq!(evaluate(&ok, &RustMath), Ok(1.0));
    }

    #[test]
    fn arbitrary_inputs_never_panic() {
        let alphabet: Vec<char> = "0123456789.eE+-*/%^() pisqrt_xé".chars().collect();
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        for _ in 0..20_000 {
            let len = (state % 24) as usize;
            let mut s = String::new();
            for _ in 0..len {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                s.push(alphabet[(state % alphabet.len() as u64) as usize]);
            }
            let _ = evaluate(&s, &RustMath);
        }
    }
}
