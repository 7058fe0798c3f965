//! `metricore`: serve, dump and inspect shared registry files, and a demonstration.

mod demo;
mod inspect;

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use metricore::{http::Server, Format, Registry};

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
    },
    /// Print the exposition of a registry file
    Dump {
        /// The registry file
        file: PathBuf,
        /// Exposition format
        #[arg(long, value_enum, default_value_t = DumpFormat::Prometheus)]
        format: DumpFormat,
    },
    /// Show a registry file's capacity and use, its families and attached processes
    Inspect {
        /// The registry file
        file: PathBuf,
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
        Command::Serve { registries, listen } => serve(&registries, listen),
        Command::Dump { file, format } => dump(&file, format),
        Command::Inspect { file } => inspect::run(&file),
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

/// Opens an existing registry file.
pub fn open(path: &Path) -> Result<Registry, Failure> {
    Registry::open_existing(path).map_err(Failure::registry)
}

fn serve(paths: &[PathBuf], listen: SocketAddr) -> Result<(), Failure> {
    use std::os::unix::fs::MetadataExt;
    let mut seen: Vec<((u64, u64), &PathBuf)> = Vec::new();
    let mut registries = Vec::new();
    for path in paths {
        let registry = open(path)?;
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

fn dump(path: &Path, format: DumpFormat) -> Result<(), Failure> {
    let registry = open(path)?;
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
