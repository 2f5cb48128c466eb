//! The one integration-test binary (DESIGN.md: each file in tests/ would be its own binary and
//! its own link). Every test runs a real server over real HTTP.

mod harness;

mod discovery;
