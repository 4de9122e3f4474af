//! keepalived.conf, read exactly and checked strictly.
//!
//! The pipeline: files → [`preprocess`] (comments, `include`, `@id` lines, `$NAME=`
//! definitions, `~SEQ`/`~LST`, brace splitting, words: [`lexer`]) → [`tree`] (generic
//! `keyword args { ... }` nodes with spans) → lowering (one keyword table per block,
//! keepalived's defaults) → [`validate`] (cross references, duplicate VRIDs and
//! VIPs, facts of this machine) → [`model::Config`].
//!
//! Every problem is collected with its `file:line:column`; loading fails if any is an
//! error. Unknown keywords are errors unless [`LoadOptions::lenient`] is set (keepalived
//! only warns about them, which hides typos).
//!
//! This crate owns the configuration language and model. It never touches the network,
//! the kernel or processes; the only I/O is reading configuration files (and, for the
//! optional host checks, looking at `/sys/class/net` and script files).
//!
//! ```
//! use rk_config::{LoadOptions, load_str};
//!
//! let text = r#"
//! vrrp_instance VI_1 {
//!     state MASTER
//!     interface eth0
//!     virtual_router_id 33#comment glued to the value
//!     priority 100
//!     virtual_ipaddress { 172.16.15.99/16 dev eth0 label eth0:0 }
//! }
//! "#;
//! let loaded = load_str("keepalived.conf", text, &LoadOptions::for_tests()).unwrap();
//! let vi = &loaded.config.vrrp_instances[0];
//! assert_eq!((vi.vrid, vi.priority), (33, 100));
//! assert_eq!(vi.virtual_ipaddress[0].label.as_deref(), Some("eth0:0"));
//!
//! let bad = "vrrp_instance VI_1 {\n  prority 100\n}\n";
//! let err = load_str("bad.conf", bad, &LoadOptions::for_tests()).unwrap_err();
//! assert!(err.render().contains("bad.conf:2:3"));
//! assert!(err.render().contains("did you mean 'priority'?"));
//! ```

pub mod diag;
pub mod lexer;
pub(crate) mod lower;
pub mod model;
pub mod preprocess;
pub mod source;
pub mod tree;
pub mod validate;

use std::path::Path;

pub use diag::{DiagKind, Diagnostic, Diagnostics, Severity};
pub use model::Config;
pub use source::{SourceMap, Span};
pub use validate::{HostFacts, NoHost, SystemHost};

/// The default configuration file.
pub const DEFAULT_CONFIG_FILE: &str = "/etc/keepalived/keepalived.conf";

/// How to load a configuration.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The config id `@id` lines are compared with (keepalived's `-i`; default: the host
    /// name up to its first dot).
    pub config_id: String,
    /// Report unknown keywords as warnings instead of errors (`--lenient`).
    pub lenient: bool,
    /// Seed for `${_RANDOM}`; the current time when absent.
    pub random_seed: Option<u64>,
    /// Check the configuration against this machine (interfaces, scripts). Problems are
    /// warnings either way.
    pub check_host: bool,
    /// Most logical lines `~SEQ`, `~LST` and definitions may expand to.
    pub max_lines: usize,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            config_id: preprocess::default_config_id(),
            lenient: false,
            random_seed: None,
            check_host: true,
            max_lines: preprocess::DEFAULT_MAX_LINES,
        }
    }
}

impl LoadOptions {
    /// Options that do not depend on the machine: config id `test`, fixed random seed, no
    /// host checks. For tests and examples.
    pub fn for_tests() -> Self {
        LoadOptions {
            config_id: "test".into(),
            lenient: false,
            random_seed: Some(1),
            check_host: false,
            max_lines: preprocess::DEFAULT_MAX_LINES,
        }
    }
}

/// A configuration that loaded: the model, the files read, and any warnings.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The typed configuration.
    pub config: Config,
    /// The files read.
    pub sources: SourceMap,
    /// Warnings (there are no errors).
    pub diagnostics: Diagnostics,
}

impl Loaded {
    /// The warnings, rendered.
    pub fn render_warnings(&self) -> String {
        self.diagnostics.render(&self.sources)
    }
}

/// A configuration that did not load, with every problem found.
#[derive(Debug, Clone)]
pub struct Rejected {
    /// The files read.
    pub sources: SourceMap,
    /// Errors and warnings, in file order.
    pub diagnostics: Diagnostics,
}

impl Rejected {
    /// Every diagnostic, rendered with its place, then a summary line.
    pub fn render(&self) -> String {
        self.diagnostics.render(&self.sources)
    }
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render())
    }
}

impl std::error::Error for Rejected {}

fn seed(opts: &LoadOptions) -> u64 {
    opts.random_seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
    })
}

/// Loads the configuration file at `path` and everything it includes.
pub fn load_file(path: &Path, opts: &LoadOptions) -> Result<Loaded, Rejected> {
    if !path.is_file() {
        let mut diags = Diagnostics::new();
        diags.error(
            DiagKind::Include,
            None,
            format!(
                "configuration file '{}' does not exist or is not a file",
                path.display()
            ),
        );
        return Err(Rejected {
            sources: SourceMap::new(),
            diagnostics: diags,
        });
    }
    load(opts, |p| p.run(path))
}

/// Loads configuration text (the text is named `name` in diagnostics; includes are
/// relative to the working directory).
pub fn load_str(name: &str, text: &str, opts: &LoadOptions) -> Result<Loaded, Rejected> {
    load(opts, |p| p.run_text(name, text))
}

/// Lines handed from the reading thread to the lowering thread at once.
const BATCH: usize = 1024;

/// Reads and lowers at the same time: the preprocessor runs on this thread and hands its
/// lines, in batches, to a second thread that builds the tree, lowers each top-level
/// statement as soon as it is complete, and drops it. A large configuration's syntax
/// tree therefore never exists whole, and the two halves of the work use two cores.
fn load(
    opts: &LoadOptions,
    read: impl FnOnce(preprocess::Preprocessor<'_>),
) -> Result<Loaded, Rejected> {
    let mut sources = SourceMap::new();
    let mut diags = Diagnostics::new();
    let lenient = opts.lenient;
    let (config, lower_diags) = std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<tree::Item>>(16);
        // Emptied batches go back to the reader: reusing their memory is cheaper than
        // touching fresh pages for every batch.
        let (back_tx, back_rx) = std::sync::mpsc::sync_channel::<Vec<tree::Item>>(20);
        let lowering = scope.spawn(move || {
            let mut tree = tree::TreeBuilder::new();
            let mut lowering = lower::Lowering::new(lenient);
            let mut diags = Diagnostics::new();
            let mut done = Vec::new();
            for mut batch in rx {
                for item in batch.drain(..) {
                    tree.push(item, &mut diags, &mut done);
                    for n in done.drain(..) {
                        lowering.node(n, &mut diags);
                    }
                }
                // Full or gone reader: the batch is simply dropped.
                let _ = back_tx.try_send(batch);
            }
            tree.finish(&mut diags, &mut done);
            for n in done.drain(..) {
                lowering.node(n, &mut diags);
            }
            let config = lowering.finish(&mut diags);
            (config, diags)
        });
        let mut batch = Vec::with_capacity(BATCH);
        {
            let mut sink = |item: tree::Item| {
                batch.push(item);
                if batch.len() == BATCH {
                    // The receiver only goes away if it panicked; join() reports that.
                    let empty = back_rx
                        .try_recv()
                        .unwrap_or_else(|_| Vec::with_capacity(BATCH));
                    let _ = tx.send(std::mem::replace(&mut batch, empty));
                }
            };
            let pre = preprocess::Preprocessor::new(
                &mut sources,
                &mut diags,
                &opts.config_id,
                seed(opts),
                &mut sink,
            )
            .with_max_lines(opts.max_lines);
            read(pre);
        }
        let _ = tx.send(batch);
        drop(tx);
        match lowering.join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    });
    let mut config = config;
    diags.append(lower_diags);
    let host: &dyn HostFacts = if opts.check_host {
        &SystemHost
    } else {
        &NoHost
    };
    validate::validate(&mut config, host, &mut diags);
    diags.sort();
    if diags.has_errors() {
        Err(Rejected {
            sources,
            diagnostics: diags,
        })
    } else {
        Ok(Loaded {
            config,
            sources,
            diagnostics: diags,
        })
    }
}
