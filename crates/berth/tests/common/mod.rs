//! End-to-end harness: starts the real `berth serve` on port 0 with its own data directory and
//! home, and runs the real `berth` binary against it as a user would.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    time::Duration,
};

pub mod ws;

pub const BIN: &str = env!("CARGO_BIN_EXE_berth");

pub struct TestServer {
    pub url: String,
    pub data_dir: PathBuf,
    pub home: PathBuf,
    pub stderr_log: PathBuf,
    pub child: Option<Child>,
    pub dir: tempfile::TempDir,
}

/// A finished CLI run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(self) -> Self {
        assert_eq!(
            self.code, 0,
            "command failed\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout))
    }
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl TestServer {
    pub fn start(extra: &[&str]) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("data");
        let home = dir.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        let mut s = TestServer {
            url: String::new(),
            data_dir,
            home,
            stderr_log: dir.path().join("serve.log"),
            child: None,
            dir,
        };
        s.spawn(extra);
        s
    }

    /// (Re)starts the server process on the same data directory.
    pub fn spawn(&mut self, extra: &[&str]) {
        let log = std::fs::File::create(&self.stderr_log).unwrap();
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&self.data_dir)
            .args(extra)
            .env("BERTH_HOME", &self.home)
            .env_remove("BERTH_URL")
            .env_remove("BERTH_ACCESS_TOKEN")
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("berth listening on ")
            .unwrap_or_else(|| {
                panic!(
                    "server did not start: {line:?}\n{}",
                    std::fs::read_to_string(&self.stderr_log).unwrap_or_default()
                )
            });
        self.url = url.to_string();
        self.child = Some(child);
    }

    /// The server process's id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("server running").id()
    }

    /// How many file descriptors the server process holds open.
    #[cfg(target_os = "linux")]
    pub fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .unwrap()
            .count()
    }

    pub fn server_log(&self) -> String {
        std::fs::read_to_string(&self.stderr_log).unwrap_or_default()
    }

    pub fn admin_token(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("admin-token"))
            .unwrap()
            .trim()
            .to_string()
    }

    /// Sends SIGTERM and waits for the process; returns its exit code.
    pub fn stop(&mut self) -> i32 {
        let mut child = self.child.take().expect("server running");
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        for _ in 0..100 {
            if let Some(status) = child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        panic!("server did not stop within 5 s of SIGTERM");
    }

    /// A `berth` command as the machine's own user (whose login the server wrote).
    pub fn cli(&self) -> Cli {
        Cli::new(self.home.clone(), self.dir.path().to_path_buf()).url(&self.url)
    }

    /// A `berth` command with its own empty home (a different person on another machine).
    pub fn cli_as_stranger(&self, name: &str) -> Cli {
        let home = self.dir.path().join(format!("home-{name}"));
        std::fs::create_dir_all(&home).unwrap();
        let cwd = self.dir.path().join(format!("work-{name}"));
        std::fs::create_dir_all(&cwd).unwrap();
        Cli::new(home, cwd)
    }

    /// A raw HTTP request; returns status and body.
    pub fn http(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> (u16, String) {
        http(
            &self.url,
            method,
            path,
            &[("Authorization", token.map(|t| format!("Bearer {t}")))],
            body,
        )
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub struct Cli {
    cmd: Command,
}

impl Cli {
    pub fn new(home: PathBuf, cwd: PathBuf) -> Self {
        let mut cmd = Command::new(BIN);
        cmd.env("BERTH_HOME", home)
            .env_remove("BERTH_URL")
            .env_remove("BERTH_ACCESS_TOKEN")
            .env_remove("CONVEX_DEPLOY_KEY")
            .env_remove("CONVEX_DEPLOYMENT")
            .current_dir(cwd)
            .stdin(Stdio::null());
        Cli { cmd }
    }
    pub fn url(mut self, url: &str) -> Self {
        self.cmd.env("BERTH_URL", url);
        self
    }
    pub fn env(mut self, k: &str, v: impl AsRef<std::ffi::OsStr>) -> Self {
        self.cmd.env(k, v);
        self
    }
    pub fn env_remove(mut self, k: &str) -> Self {
        self.cmd.env_remove(k);
        self
    }
    pub fn cwd(mut self, dir: &Path) -> Self {
        self.cmd.current_dir(dir);
        self
    }
    pub fn run(mut self, args: &[&str]) -> Run {
        self.cmd.args(args).output().unwrap().into()
    }
    pub fn run_with_stdin(mut self, args: &[&str], input: &str) -> Run {
        let mut child = self
            .cmd
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap().into()
    }
}

/// Like [`http`], but a refused or broken connection is an `Err` instead of a panic.
pub fn try_http(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, Option<String>)],
    body: Option<&str>,
) -> Result<(u16, String), String> {
    std::panic::catch_unwind(|| http(base, method, path, headers, body))
        .map_err(|_| "connection failed".to_string())
}

/// A minimal HTTP/1.1 client, so the tests see exactly what goes over the wire.
pub fn http(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, Option<String>)],
    body: Option<&str>,
) -> (u16, String) {
    let addr = base.strip_prefix("http://").unwrap();
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        if let Some(v) = v {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    if let Some(b) = body {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    req.push_str("\r\n");
    if let Some(b) = body {
        req.push_str(b);
    }
    stream.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status: u16 = text.split_whitespace().nth(1).unwrap().parse().unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    (status, body)
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
    out
}

#[cfg(unix)]
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Debian's Chromium (or `BERTH_CHROMIUM`), for the browser tests; `None` (after saying the
/// test is skipped) when it is not installed, except under `CI=true`, where that fails: `.ci/run`
/// installs it.
pub fn chromium() -> Option<PathBuf> {
    let path = PathBuf::from(
        std::env::var("BERTH_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_string()),
    );
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "Chromium is not installed (/usr/bin/chromium, or BERTH_CHROMIUM): `apt-get install chromium`; in CI the browser tests must run"
    );
    eprintln!("SKIPPED: Chromium is not installed (apt-get install chromium)");
    None
}

/// A path in the repository.
pub fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(p)
}

/// Makes sure `tests/js/node_modules/<package>` is installed (from `tests/js/package.json`),
/// installing once with npm when it is missing; panics with what is needed when that fails.
pub fn npm_package(package: &str) -> PathBuf {
    let js = repo("tests/js");
    let ready = js.join("node_modules").join(package).exists()
        || Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--ignore-scripts"])
            .current_dir(&js)
            .status()
            .is_ok_and(|s| s.success());
    assert!(
        ready,
        "npm install in tests/js failed: Node.js 20 and npm (with access to the npm registry) are needed for this test"
    );
    js
}

static NEXT_SCHEMA: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// A PostgreSQL URL whose connections use a fresh schema of their own, or `None` (after saying
/// the test is skipped) when `BERTH_TEST_DATABASE_URL` is not set. `.ci/run` sets it.
pub fn postgres_url(test: &str) -> Option<String> {
    let Ok(url) = std::env::var("BERTH_TEST_DATABASE_URL") else {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: {test} on PostgreSQL (not configured: set BERTH_TEST_DATABASE_URL, as .ci/run does)"
        );
        return None;
    };
    let schema = format!(
        "berth_test_{}_{}",
        std::process::id(),
        NEXT_SCHEMA.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    );
    let out = Command::new("psql")
        .arg(&url)
        .args([
            "-qc",
            &format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema};"),
        ])
        .output()
        .expect("psql is needed to prepare the PostgreSQL tests");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sep = if url.contains('?') { '&' } else { '?' };
    Some(format!("{url}{sep}options=-c%20search_path%3D{schema}"))
}

/// Asserts that a deployment (as the API shows it) expires between `min_hours` and `max_hours`
/// from now.
pub fn assert_expires_within(d: &serde_json::Value, min_hours: i64, max_hours: i64) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let left = d["expiresAt"]
        .as_i64()
        .expect("the deployment has an expiration")
        - now;
    assert!(
        (min_hours * 3_600_000..=max_hours * 3_600_000).contains(&left),
        "{} expires in {left} ms, not within {min_hours}-{max_hours} h",
        d["name"]
    );
}
