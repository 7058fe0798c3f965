//! `metricore`: serve, dump and inspect shared registry files, and a demonstration.

mod demo;
mod inspect;

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use metricore::http::{Server, WebConfig};
use metricore::{Format, Options, Registry};

#[derive(Parser)]
#[command(
    name = "metricore",
    version,
    about = "Serve, dump and inspect metricore registry files"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve registry files on http://ADDR/metrics for Prometheus to scrape
    /// (`?name[]=NAME`, repeated, renders only the families named), with the process
    /// metrics of this server
    Serve {
        /// A registry file; give several to serve them as one exposition
        #[arg(long = "registry", value_name = "FILE", required = true)]
        registries: Vec<PathBuf>,
        /// Address to listen on (port 0 picks a free port)
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9464")]
        listen: SocketAddr,
        /// Web configuration file (TLS, basic auth, headers), in the format of the
        /// Prometheus exporters' --web.config.file
        #[arg(long = "web.config.file", value_name = "FILE")]
        web_config: Option<PathBuf>,
        #[command(flatten)]
        trust: Trust,
    },
    /// Push a registry file to a Prometheus Pushgateway
    Push {
        /// The registry file
        #[arg(long, value_name = "FILE")]
        registry: Option<PathBuf>,
        /// The gateway: host:port, http://host:port or https://host:port
        #[arg(long, value_name = "URL")]
        gateway: String,
        /// The job the group belongs to
        #[arg(long)]
        job: String,
        /// A grouping label of the group, as NAME=VALUE (repeatable)
        #[arg(long = "grouping", value_name = "NAME=VALUE")]
        grouping: Vec<String>,
        /// put replaces the group, post replaces only the families pushed, delete
        /// deletes the group (no registry needed)
        #[arg(long, value_enum, default_value_t = PushMethod::Put)]
        method: PushMethod,
        /// Basic auth user
        #[arg(
            long = "basic-auth-user",
            value_name = "USER",
            requires = "password_file"
        )]
        user: Option<String>,
        /// File holding the basic auth password (a trailing newline is dropped)
        #[arg(
            long = "basic-auth-password-file",
            value_name = "FILE",
            requires = "user"
        )]
        password_file: Option<PathBuf>,
        /// PEM file of the CA certificates to verify an https gateway with (default: the
        /// system's)
        #[arg(long = "ca-file", value_name = "FILE")]
        ca_file: Option<PathBuf>,
        /// Client certificate (PEM) to present to an https gateway
        #[arg(long = "cert-file", value_name = "FILE", requires = "key_file")]
        cert_file: Option<PathBuf>,
        /// The client certificate's key (PEM)
        #[arg(long = "key-file", value_name = "FILE", requires = "cert_file")]
        key_file: Option<PathBuf>,
        #[command(flatten)]
        trust: Trust,
    },
    /// Print the exposition of a registry file
    Dump {
        /// The registry file
        file: PathBuf,
        /// Exposition format
        #[arg(long, value_enum, default_value_t = DumpFormat::Prometheus)]
        format: DumpFormat,
        #[command(flatten)]
        trust: Trust,
    },
    /// Show a registry file's capacity and use, its families and attached processes
    Inspect {
        /// The registry file
        file: PathBuf,
        #[command(flatten)]
        trust: Trust,
    },
    /// Record into a shared registry from several processes and serve it, until Ctrl-C
    Demo {
        /// Address to listen on (port 0 picks a free port)
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9464")]
        listen: SocketAddr,
    },
    /// One recording process of the demo; it stops when its standard input closes
    #[command(hide = true)]
    DemoWorker {
        /// The demo's registry file
        file: PathBuf,
    },
}

/// Whom to trust with a registry file besides the calling user. Files are only read:
/// these commands open and map them read-only and change nothing in them.
#[derive(clap::Args)]
struct Trust {
    /// Also trust files owned by this user (name or uid)
    #[arg(long, value_name = "USER")]
    owner: Option<String>,
    /// Also trust files of this group, even if group-writable (name or gid)
    #[arg(long, value_name = "GROUP")]
    group: Option<String>,
}

impl Trust {
    fn options(&self) -> Result<Options, Failure> {
        let owner = self.owner.as_deref().map(metricore::access::user_id);
        let group = self.group.as_deref().map(metricore::access::group_id);
        Ok(Options {
            owner: owner.transpose().map_err(Failure::other)?,
            group: group.transpose().map_err(Failure::other)?,
            ..Options::default()
        })
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum PushMethod {
    Put,
    Post,
    Delete,
}

#[derive(Clone, Copy, ValueEnum)]
enum DumpFormat {
    /// Prometheus text format 0.0.4
    Prometheus,
    /// OpenMetrics text format 1.0.0
    Openmetrics,
}

/// A failure: the line to print and the exit status.
pub struct Failure {
    message: String,
    status: u8,
}

impl Failure {
    /// A registry file that cannot be used (missing, not a registry, other version).
    pub fn registry(e: metricore::Error) -> Failure {
        Failure {
            message: e.to_string(),
            status: 2,
        }
    }

    /// Any other failure.
    pub fn other(message: impl std::fmt::Display) -> Failure {
        Failure {
            message: message.to_string(),
            status: 1,
        }
    }
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Serve {
            registries,
            listen,
            web_config,
            trust,
        } => trust
            .options()
            .and_then(|o| serve(&registries, listen, web_config.as_deref(), &o)),
        Command::Push {
            registry,
            gateway,
            job,
            grouping,
            method,
            user,
            password_file,
            ca_file,
            cert_file,
            key_file,
            trust,
        } => {
            let options = match trust.options() {
                Ok(o) => o,
                Err(f) => return exit(Err(f)),
            };
            let mut gw = metricore::push::Gateway::new(&gateway);
            if let (Some(user), Some(file)) = (user, password_file) {
                let password = std::fs::read_to_string(&file)
                    .map_err(|e| Failure::other(format!("{}: {e}", file.display())));
                match password {
                    Ok(p) => gw = gw.basic_auth(&user, p.trim_end_matches(['\r', '\n'])),
                    Err(f) => return exit(Err(f)),
                }
            }
            if let Some(ca) = ca_file {
                gw = gw.ca_file(ca);
            }
            if let (Some(cert), Some(key)) = (cert_file, key_file) {
                gw = gw.client_cert(cert, key);
            }
            push(&gw, registry.as_deref(), &job, &grouping, method, &options)
        }
        Command::Dump {
            file,
            format,
            trust,
        } => trust.options().and_then(|o| dump(&file, format, &o)),
        Command::Inspect { file, trust } => trust.options().and_then(|o| inspect::run(&file, &o)),
        Command::Demo { listen } => demo::run(listen),
        Command::DemoWorker { file } => demo::worker(&file),
    };
    exit(result)
}

fn exit(result: Result<(), Failure>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("metricore: {}", f.message);
            ExitCode::from(f.status)
        }
    }
}

/// Opens an existing registry file read-only, trusting whom `options` name.
pub fn open(path: &Path, options: &Options) -> Result<Registry, Failure> {
    Registry::open_read_only(path, options).map_err(Failure::registry)
}

fn push(
    gateway: &metricore::push::Gateway,
    registry: Option<&Path>,
    job: &str,
    grouping: &[String],
    method: PushMethod,
    options: &Options,
) -> Result<(), Failure> {
    let mut pairs = Vec::new();
    for g in grouping {
        let Some(pair) = g.split_once('=') else {
            return Err(Failure::other(format!(
                "--grouping {g:?}: expected NAME=VALUE"
            )));
        };
        pairs.push(pair);
    }
    let registry = match (registry, method) {
        (_, PushMethod::Delete) => None,
        (Some(path), _) => Some(open(path, options)?),
        (None, _) => return Err(Failure::other("--registry is needed to push")),
    };
    let result = match (registry, method) {
        (Some(r), PushMethod::Put) => gateway.push(job, &pairs, &r),
        (Some(r), PushMethod::Post) => gateway.push_add(job, &pairs, &r),
        _ => gateway.delete(job, &pairs),
    };
    result.map_err(Failure::other)
}

/// Raises the soft limit on open files to the hard limit, as Go programs (Prometheus,
/// the exporters) do at start, so that many scrapers and idle clients fit.
fn raise_open_files_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit to the valid, exclusively borrowed `limit`.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return;
    }
    if limit.rlim_cur < limit.rlim_max {
        limit.rlim_cur = limit.rlim_max;
        // SAFETY: setrlimit only reads the valid `limit`; a refusal leaves the limit as
        // it was, which is fine.
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) };
    }
}

fn serve(
    paths: &[PathBuf],
    listen: SocketAddr,
    web_config: Option<&Path>,
    options: &Options,
) -> Result<(), Failure> {
    use std::os::unix::fs::MetadataExt;
    // The configuration is checked before anything else starts.
    let config = match web_config {
        Some(file) => WebConfig::from_file(file).map_err(|e| Failure {
            message: e.to_string(),
            status: 2,
        })?,
        None => WebConfig::default(),
    };
    let mut seen: Vec<((u64, u64), &PathBuf)> = Vec::new();
    let mut registries = Vec::new();
    for path in paths {
        let registry = open(path, options)?;
        // The file was opened, so it can be looked at.
        if let Ok(m) = std::fs::metadata(path) {
            if let Some((_, first)) = seen.iter().find(|(id, _)| *id == (m.dev(), m.ino())) {
                return Err(Failure {
                    message: format!(
                        "{} and {} are the same registry file; give it once",
                        first.display(),
                        path.display()
                    ),
                    status: 2,
                });
            }
            seen.push(((m.dev(), m.ino()), path));
        }
        registries.push(registry);
    }
    let stop = StopSignals::install()?;
    // The server is one fixed process, its own scrape target: its `process_*` read right
    // in PromQL, where those of whichever worker rendered the file would not.
    metricore::process::register(&registries[0]);
    raise_open_files_limit();
    let server = Server::start_with(registries, listen, config).map_err(Failure::other)?;
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    println!(
        "serving {} at {}://{}/metrics",
        names.join(", "),
        server.scheme(),
        server.local_addr()
    );
    stop.wait();
    server.shutdown();
    Ok(())
}

fn dump(path: &Path, format: DumpFormat, options: &Options) -> Result<(), Failure> {
    let registry = open(path, options)?;
    let format = match format {
        DumpFormat::Prometheus => Format::Prometheus,
        DumpFormat::Openmetrics => Format::OpenMetrics,
    };
    let text = registry.render(format);
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        // A reader that stopped early (`| head`) is not an error.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Failure::other(e)),
        _ => Ok(()),
    }
}

/// Ctrl-C (SIGINT) and SIGTERM, caught from the moment this is made.
pub struct StopSignals {
    runtime: tokio::runtime::Runtime,
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl StopSignals {
    /// Catches the signals.
    pub fn install() -> Result<StopSignals, Failure> {
        use tokio::signal::unix::{signal, SignalKind};
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .map_err(Failure::other)?;
        let context = runtime.enter();
        let interrupt = signal(SignalKind::interrupt()).map_err(Failure::other)?;
        let terminate = signal(SignalKind::terminate()).map_err(Failure::other)?;
        drop(context);
        Ok(StopSignals {
            runtime,
            interrupt,
            terminate,
        })
    }

    /// Waits for one of them.
    pub fn wait(mut self) {
        self.runtime.block_on(async {
            tokio::select! {
                _ = self.interrupt.recv() => {}
                _ = self.terminate.recv() => {}
            }
        });
    }
}
