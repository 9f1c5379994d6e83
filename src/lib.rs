//! kisha watches government press releases and mails a structured digest of
//! the ones that matter.
//!
//! # Layout
//!
//! The modules follow the pipeline, one per stage, in the order data flows:
//!
//! - [`config`]: the TOML config, parsed and validated once.
//! - [`schedule`]: when each source is polled and when digests go out.
//! - [`fetch`]: HTTP (conditional GET, caps, per-host limits) and decoding.
//! - [`extract`]: feeds and listing pages to [`extract::Item`]s.
//! - [`store`]: sled; what was seen, source state, the transaction per poll.
//! - [`matcher`]: rules and the `jp-defense-meeting` detector.
//! - [`enrich`]: release pages to [`enrich::Release`] facts.
//! - [`outbox`]: the durable queue and the delivery state machine.
//! - [`digest`]: events grouped and rendered as text and HTML.
//! - [`mail`]: SMTP and `.eml` files.
//!
//! [`cycle`] is the one orchestrator that calls them in order; [`daemon`]
//! runs cycles on schedule under systemd; [`demo`] runs the whole pipeline on
//! recorded pages. [`text`], [`dates`] and [`clock`] are shared helpers.

#![forbid(unsafe_code)]

pub mod clock;
pub mod config;
pub mod cycle;
pub mod daemon;
pub mod dates;
pub mod demo;
pub mod digest;
pub mod enrich;
pub mod extract;
pub mod fetch;
pub mod inspect;
pub mod mail;
pub mod matcher;
pub mod outbox;
pub mod schedule;
pub mod status;
pub mod store;
pub mod text;
