use clap::Parser;
use credits::cli::Cli;

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or_else(|| {
        // `credits` alone serves, with every setting from flags' defaults and the environment.
        let Cli { command: Some(command) } = Cli::parse_from(["credits", "serve"]) else { unreachable!() };
        command
    });
    match credits::serve::run(command).await {
        Ok(code) => std::process::exit(code),
        Err(error) => {
            eprintln!("credits: {error}");
            if let credits::error::Error::Internal(detail) | credits::error::Error::Unavailable(detail) = &error {
                eprintln!("credits: {detail}");
            }
            std::process::exit(1);
        }
    }
}
