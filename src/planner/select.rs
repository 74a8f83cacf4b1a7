//! Which topics a plan may move: `--topics`, `--topics-file` and
//! `--exclude-topics` resolved against the cluster into the set
//! [`super::PlanRequest::topics`] takes. Pure: the CLI reads and parses the
//! topics file and hands over its names.

use std::collections::BTreeSet;

use regex::Regex;

use crate::model::Cluster;

/// The topic flags of a request, as given.
#[derive(Debug, Clone, Default)]
pub struct TopicFilter<'a> {
    /// `--topics`: a comma-separated list of names, or a regex.
    pub topics: Option<&'a str>,
    /// `--topics-file`: its path (for messages) and the names it lists.
    pub topics_file: Option<(&'a str, Vec<String>)>,
    /// `--exclude-topics`: a list or a regex, as `topics`.
    pub exclude: Option<&'a str>,
}

/// A filter that names what is not there, or selects nothing. The message
/// names the flag (or file) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SelectError(String);

/// Topic names are `[A-Za-z0-9._-]`; anything else makes the argument a
/// regex.
fn is_name_list(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ','))
}

/// The topics one flag's `spec` names: every name must be in the cluster,
/// and a regex (matched against the whole name) must match some topic.
fn resolve(cluster: &Cluster, flag: &str, spec: &str) -> Result<BTreeSet<String>, SelectError> {
    let fail = |msg: String| Err(SelectError(msg));
    if is_name_list(spec) {
        let names: Vec<&str> = spec.split(',').filter(|s| !s.is_empty()).collect();
        if names.is_empty() {
            return fail(format!("{flag}: empty topic list"));
        }
        let unknown: Vec<&str> = names
            .iter()
            .copied()
            .filter(|n| cluster.topic(n).is_none())
            .collect();
        if !unknown.is_empty() {
            return fail(format!("{flag}: unknown topics: {}", unknown.join(", ")));
        }
        return Ok(names.into_iter().map(String::from).collect());
    }
    let re = Regex::new(&format!("^(?:{spec})$")).map_err(|e| {
        // The regex crate draws the pattern with a caret over several
        // lines; the last one says what is wrong.
        let text = e.to_string();
        let why = text.lines().last().unwrap_or_default();
        let why = why.strip_prefix("error: ").unwrap_or(why);
        SelectError(format!("{flag}: invalid regex {spec:?}: {why}"))
    })?;
    let hit: BTreeSet<String> = cluster
        .topics
        .iter()
        .map(|t| t.name.as_str())
        .filter(|n| re.is_match(n))
        .map(String::from)
        .collect();
    if hit.is_empty() {
        return fail(format!("{flag}: {spec:?} matches no topic"));
    }
    Ok(hit)
}

/// The set of topics that may move (`None`: all). `--topics-file` takes
/// the place of `--topics`; `--exclude-topics` removes from either (or
/// from all) and must leave some topic.
pub fn select_topics(
    cluster: &Cluster,
    filter: &TopicFilter,
) -> Result<Option<BTreeSet<String>>, SelectError> {
    let mut selected: Option<BTreeSet<String>> = None;
    if let Some(spec) = filter.topics {
        selected = Some(resolve(cluster, "--topics", spec)?);
    }
    if let Some((path, names)) = &filter.topics_file {
        let unknown: Vec<&str> = names
            .iter()
            .map(String::as_str)
            .filter(|n| cluster.topic(n).is_none())
            .collect();
        if !unknown.is_empty() {
            return Err(SelectError(format!(
                "{path}: unknown topics: {}",
                unknown.join(", ")
            )));
        }
        selected = Some(names.iter().cloned().collect());
    }
    if let Some(spec) = filter.exclude {
        let excluded = resolve(cluster, "--exclude-topics", spec)?;
        let base =
            selected.unwrap_or_else(|| cluster.topics.iter().map(|t| t.name.clone()).collect());
        let left: BTreeSet<String> = base.difference(&excluded).cloned().collect();
        if left.is_empty() {
            return Err(SelectError(format!(
                "--exclude-topics {spec:?} leaves no topic that may move"
            )));
        }
        selected = Some(left);
    }
    Ok(selected)
}
