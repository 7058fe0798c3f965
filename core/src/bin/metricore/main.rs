//! `metricore`: serve, dump and inspect shared registry files, and a demonstration.

mod demo;
mod inspect;

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use metricore::{http::Server, Format, Options, Registry};

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
    Serve {
        /// A registry file; give several to serve them as one exposition
        #[arg(long = "registry", value_name = "FILE", required = true)]
        registries: Vec<PathBuf>,
        /// Address to listen on (port 0 picks a free port)
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9464")]
        listen: SocketAddr,
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
            trust,
        } => trust.options().and_then(|o| serve(&registries, listen, &o)),
        Command::Dump {
            file,
            format,
            trust,
        } => trust.options().and_then(|o| dump(&file, format, &o)),
        Command::Inspect { file, trust } => trust.options().and_then(|o| inspect::run(&file, &o)),
        Command::Demo { listen } => demo::run(listen),
        Command::DemoWorker { file } => demo::worker(&file),
    };
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

fn serve(paths: &[PathBuf], listen: SocketAddr, options: &Options) -> Result<(), Failure> {
    use std::os::unix::fs::MetadataExt;
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
    metricore::process::register(&registries[0]);
    let server = Server::start(registries, listen).map_err(Failure::other)?;
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    println!(
        "serving {} at http://{}/metrics",
        names.join(", "),
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
