//! `rcache proxy`'s command line: twemproxy's own flags (so init scripts and orchestration
//! that start `nutcracker` keep working) plus rcache's few additions.

use clap::{ArgAction, Args};
use std::path::PathBuf;

/// twemproxy's version this proxy follows (config, stats, command line).
pub const TWEMPROXY_VERSION: &str = "0.5.0";

#[derive(Args, Debug, Clone)]
#[command(disable_version_flag = true)]
pub struct ProxyArgs {
    /// Set the configuration file (twemproxy's YAML).
    #[arg(short = 'c', long = "conf-file", default_value = "conf/nutcracker.yml")]
    pub conf_file: PathBuf,
    /// Test the configuration for syntax errors and exit (0: valid, 1: not).
    #[arg(short = 't', long = "test-conf")]
    pub test_conf: bool,
    /// Run as a daemon (in the background, detached from the terminal).
    #[arg(short = 'd', long = "daemonize")]
    pub daemonize: bool,
    /// Print the stats description and exit.
    #[arg(short = 'D', long = "describe-stats")]
    pub describe_stats: bool,
    /// Show the version and exit.
    #[arg(short = 'V', long = "version", action = ArgAction::SetTrue)]
    pub version: bool,
    /// Set the logging level (twemproxy's 0..11; 5 = notice, 6 = info, 7+ = debug).
    #[arg(short = 'v', long = "verbose", default_value_t = 5)]
    pub verbose: u8,
    /// Set the logging file (default: stderr).
    #[arg(short = 'o', long = "output")]
    pub output: Option<PathBuf>,
    /// Set the stats monitoring port (twemproxy's JSON; 0 = any free port).
    #[arg(short = 's', long = "stats-port", default_value_t = 22222)]
    pub stats_port: u16,
    /// Set the stats monitoring ip.
    #[arg(short = 'a', long = "stats-addr", default_value = "0.0.0.0")]
    pub stats_addr: String,
    /// Set the stats aggregation interval in msec.
    #[arg(short = 'i', long = "stats-interval", default_value_t = 30_000)]
    pub stats_interval: u64,
    /// Set the pid file.
    #[arg(short = 'p', long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Set the size of twemproxy's mbuf chunk in bytes (accepted; rcache sizes its buffers
    /// itself).
    #[arg(short = 'm', long = "mbuf-size", default_value_t = 16384)]
    pub mbuf_size: usize,
    /// rcache: worker threads serving clients (default: one per core but one, at least one).
    #[arg(long = "threads")]
    pub threads: Option<usize>,
    /// rcache: an HTTP address for Prometheus `GET /metrics` and `POST /reload`
    /// (e.g. 127.0.0.1:22223; off by default).
    #[arg(long = "metrics-addr")]
    pub metrics_addr: Option<String>,
    /// rcache: write the addresses actually bound (pools, stats, metrics) to this file
    /// once listening, as `name host:port` lines (tests and scripts use port 0).
    #[arg(long = "ports-file")]
    pub ports_file: Option<PathBuf>,
}
