//! The command-line tool's parts beyond argument parsing (`main.rs`): how results are printed,
//! `doctor`, and `keys rotate-kek`.

pub mod doctor;
pub mod output;
pub mod rotate_kek;
