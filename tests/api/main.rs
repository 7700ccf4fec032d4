//! Integration tests: the real service, on real sockets and a real SQLite file, against a
//! fake OVH upstream serving the fixtures. One test binary, shared helpers.

#[path = "../support/binary.rs"]
mod binary;
mod helpers;

mod auth;
mod backup;
mod callbacks;
mod caps;
mod cli;
mod connections;
mod csv_export;
mod csv_streamed;
mod disk_full;
mod failover;
mod feed_faults;
mod generated;
mod lines;
mod migrate;
mod openapi;
mod ovh;
mod own_screen_pop;
mod postgres_faults;
mod publish;
mod queues;
mod restart;
mod search;
mod settings;
mod stream;
mod token_admin;
mod tokens;
mod users;
