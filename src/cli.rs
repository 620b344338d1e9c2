//! Command-line options, matching the SYNOPSIS of ferroftpd(8).

use std::path::PathBuf;

pub const USAGE: &str = "usage: ferroftpd [-d] [-n] [-c file]
       ferroftpd hash-password
       ferroftpd --version

  -c, --config FILE     configuration file (default /usr/local/etc/ferroftpd/ferroftpd.json)
  -n, --check-config    check the configuration and the users file, then exit
  -d, --debug           log at debug level (RUST_LOG overrides)
  -v, --version         print the version and exit
  -h, --help            print this help and exit
  hash-password         read a password on standard input, print its bcrypt hash";

#[derive(Debug, PartialEq, Eq)]
pub enum Mode {
    Serve,
    CheckConfig,
    HashPassword,
    Version,
    Help,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Options {
    pub mode: Mode,
    pub config: PathBuf,
    pub debug: bool,
}

/// Parses argv (without the program name). Err is a usage message line.
pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Options, String> {
    let mut opts = Options {
        mode: Mode::Serve,
        config: PathBuf::from(crate::config::DEFAULT_CONFIG),
        debug: false,
    };
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-c" | "--config" => {
                opts.config = it
                    .next()
                    .map(PathBuf::from)
                    .ok_or_else(|| format!("{arg} needs a file name"))?;
            }
            s if s.starts_with("--config=") => opts.config = PathBuf::from(&s[9..]),
            "-n" | "--check-config" => opts.mode = Mode::CheckConfig,
            "-d" | "--debug" => opts.debug = true,
            "-v" | "--version" => opts.mode = Mode::Version,
            "-h" | "--help" => opts.mode = Mode::Help,
            "hash-password" => opts.mode = Mode::HashPassword,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(a: &[&str]) -> Result<Options, String> {
        parse(a.iter().map(|s| s.to_string()))
    }

    #[test]
    fn flags() {
        let o = p(&["-n", "--config", "/x.json", "-d"]).unwrap();
        assert_eq!(o.mode, Mode::CheckConfig);
        assert_eq!(o.config, PathBuf::from("/x.json"));
        assert!(o.debug);
        assert_eq!(p(&["--config=/y"]).unwrap().config, PathBuf::from("/y"));
        assert!(p(&["-c"]).is_err());
        assert!(p(&["-x"]).is_err());
    }
}
