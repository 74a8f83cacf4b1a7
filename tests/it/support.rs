//! Helpers shared by the test modules.

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;

/// The binary, in a UTF-8 locale whatever the caller's (tables and bars
/// follow the locale; a test of the ASCII fallback sets `LANG=C`).
pub fn bin() -> Command {
    let mut cmd = Command::cargo_bin("kafka-migrate").expect("binary built");
    cmd.env_remove("LC_ALL")
        .env_remove("LC_CTYPE")
        .env("LANG", "C.UTF-8");
    cmd
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A small hand-written snapshot: 4 brokers in 2 racks (broker 4 new and
/// empty), two topics.
pub const SMALL: &str = r#"{"version":1,
 "brokers":[{"id":1,"rack":"a"},{"id":2,"rack":"b"},{"id":3,"rack":"a"},{"id":4,"rack":"b"}],
 "topics":[
  {"name":"orders","partitions":[
    {"partition":0,"replicas":[1,2],"size_bytes":1000},
    {"partition":1,"replicas":[2,3],"size_bytes":2000},
    {"partition":2,"replicas":[3,2],"size_bytes":3000},
    {"partition":3,"replicas":[1,2],"size_bytes":4000}]},
  {"name":"payments","partitions":[
    {"partition":0,"replicas":[2,1],"size_bytes":500},
    {"partition":1,"replicas":[3,2],"size_bytes":700}]}]}"#;

pub fn write(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, contents).expect("write test file");
    p
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Checks the exit code, showing both streams when it differs: a wrong code
/// is explained by an error line as often as by a summary.
pub fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        stdout(out),
        stderr(out)
    );
}

/// The `error:` lines of a run.
pub fn errors(out: &Output) -> Vec<String> {
    stderr(out)
        .lines()
        .filter(|l| l.starts_with("error: "))
        .map(String::from)
        .collect()
}
