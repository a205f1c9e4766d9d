//! nstools: the Linux namespace toolbox in one binary.
//!
//! `sys` is the syscall core (typed, no command line, no printing);
//! `applets` holds one module per command built on it.

pub mod applets;
pub mod sys;
