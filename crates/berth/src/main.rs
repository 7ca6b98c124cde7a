//! The `berth` binary: `berth serve` runs the server, every other subcommand is the client.

fn main() -> std::process::ExitCode {
    berth_cli::run()
}
