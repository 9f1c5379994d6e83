//! kisha's integration tests: the real binary (or the library's cycle) against
//! a real HTTP server serving fixtures on 127.0.0.1 and a real SMTP server
//! (aiosmtpd). Run them with `scripts/test`, which installs the SMTP server.

mod util;

mod crash;
mod daemon;
mod events;
mod fuzz_corpus;
mod hostile;
mod outage;
mod pipeline;
mod service;
