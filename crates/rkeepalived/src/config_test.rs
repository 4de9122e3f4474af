//! `rkeepalived -t`: load the configuration, report every problem, optionally print the
//! model as JSON.

use std::io::Write;
use std::process::ExitCode;

use rk_config::{LoadOptions, load_file};

use crate::cli::Cli;

/// Exit status when the configuration is refused (keepalived's "cannot run").
pub const EXIT_CONFIG_REFUSED: u8 = 3;

/// Load options from the command line.
pub fn load_options(cli: &Cli) -> LoadOptions {
    let mut o = LoadOptions {
        lenient: cli.lenient,
        ..LoadOptions::default()
    };
    if let Some(id) = &cli.config_id {
        o.config_id = id.clone();
    }
    o
}

/// Runs the configuration test; `log_file` empty means stderr.
pub fn run(cli: &Cli, log_file: &str) -> ExitCode {
    let opts = load_options(cli);
    let mut out: Box<dyn Write> = if log_file.is_empty() {
        Box::new(std::io::stderr())
    } else {
        match std::fs::File::create(log_file) {
            Ok(f) => Box::new(f),
            Err(e) => {
                eprintln!("rkeepalived: cannot write '{log_file}': {e}");
                return ExitCode::from(EXIT_CONFIG_REFUSED);
            }
        }
    };
    let path = &cli.use_file;
    match load_file(path, &opts) {
        Ok(loaded) => {
            let c = &loaded.config;
            let _ = write!(out, "{}", loaded.render_warnings());
            // What the VRRP side refuses at start (an unsupported `virtual_routes` option,
            // ...) is refused here too, so `-t` answers what starting would.
            if let Err(e) = rk_vrrp::from_config::plan(c) {
                let _ = writeln!(out, "error: {e}");
                let _ = writeln!(out, "{}: configuration refused", path.display());
                return ExitCode::from(EXIT_CONFIG_REFUSED);
            }
            let _ = writeln!(
                out,
                "{}: configuration is valid ({} vrrp_instance, {} virtual_server, {} real_server; {} warning{})",
                path.display(),
                c.vrrp_instances.len(),
                c.virtual_servers.len(),
                c.virtual_servers
                    .iter()
                    .map(|v| v.real_servers.len())
                    .sum::<usize>(),
                loaded.diagnostics.warning_count(),
                if loaded.diagnostics.warning_count() == 1 {
                    ""
                } else {
                    "s"
                }
            );
            if cli.dump_conf {
                match serde_json::to_string_pretty(c) {
                    Ok(json) => println!("{json}"),
                    Err(e) => {
                        eprintln!("rkeepalived: cannot serialise the configuration: {e}");
                        return ExitCode::from(EXIT_CONFIG_REFUSED);
                    }
                }
            }
            ExitCode::SUCCESS
        }
        Err(rejected) => {
            let _ = write!(out, "{}", rejected.render());
            let _ = writeln!(out, "{}: configuration refused", path.display());
            ExitCode::from(EXIT_CONFIG_REFUSED)
        }
    }
}
