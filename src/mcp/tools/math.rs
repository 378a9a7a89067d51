//! The transcendental functions the tools compute with (`calculate`, `calculate_all`), as a
//! port the platform fills: [`ToolEnv::math`](super::ToolEnv::math).
//!
//! Why a port: in the Worker the runtime already has them (`Math.sin` and friends), and Rust's
//! software versions would add about 11 KB raw, 4.7 KiB gzip of wasm; they also differ from
//! the runtime's in the last digit for some arguments (about 1 in 160 for `sin`, 1 in 20
//! for `log10`), which would change the calculator's printed results. So the shell passes
//! the runtime's own (src/cloudflare/), and everything else (native tests) passes
//! [`RustMath`]. docs/decisions.md, "Architecture (issue 20)", has the figures. (No spec
//! section.)

/// `ln`, `log10`, `log2`, `exp`, `sin`, `cos`, `tan` (radians) and `pow` on IEEE 754 doubles.
pub trait Transcendental {
    fn ln(&self, x: f64) -> f64;
    fn log10(&self, x: f64) -> f64;
    fn log2(&self, x: f64) -> f64;
    fn exp(&self, x: f64) -> f64;
    fn sin(&self, x: f64) -> f64;
    fn cos(&self, x: f64) -> f64;
    fn tan(&self, x: f64) -> f64;
    fn pow(&self, x: f64, y: f64) -> f64;
}

/// Rust's own `f64` functions.
#[derive(Debug, Clone, Copy, Default)]
pub struct RustMath;

impl Transcendental for RustMath {
    fn ln(&self, x: f64) -> f64 {
        x.ln()
    }
    fn log10(&self, x: f64) -> f64 {
        x.log10()
    }
    fn log2(&self, x: f64) -> f64 {
        x.log2()
    }
    fn exp(&self, x: f64) -> f64 {
        x.exp()
    }
    fn sin(&self, x: f64) -> f64 {
        x.sin()
    }
    fn cos(&self, x: f64) -> f64 {
        x.cos()
    }
    fn tan(&self, x: f64) -> f64 {
        x.tan()
    }
    fn pow(&self, x: f64, y: f64) -> f64 {
        x.powf(y)
    }
}
