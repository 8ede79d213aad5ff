//! The `rampart` binary's library: command-line interface, configuration, logging, and the
//! wiring that builds a server from a configuration. Only this crate has `main`, clap and anyhow.
#![forbid(unsafe_code)]

pub mod bootstrap;
pub mod cli;
pub mod config;
pub mod logging;
pub mod report;
pub mod scan;
pub mod serve;
pub mod services;
pub mod supervisor;
pub mod worker;
