//! Tests of the `pipelog` binary itself: it is started as the README says, driven over
//! HTTP, and stopped with real signals.

mod process;

mod audit;
mod bootstrap;
mod client;
mod console;
mod crash;
mod exporting;
mod keys;
mod large;
mod nodes;
mod overload;
mod settings;
mod shipping;
mod signals;
mod tls;
