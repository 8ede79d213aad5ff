//! Integration tests: the real router on a random 127.0.0.1 port, over real SQLite and PostgreSQL.

mod admin;
mod api_keys;
mod auth;
mod cli;
mod contract;
mod crash;
mod docs;
mod errors;
mod executions;
mod exposure;
mod health;
mod helpers;
mod http;
mod ingest_crash;
mod ingest_limits;
mod invitations;
mod live;
mod logs;
mod matrix;
mod metrics;
mod module_docs;
mod secrets;
mod targets;
mod tokens;
mod watch;
mod watch_read;
