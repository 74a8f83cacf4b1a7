//! Validation problems: collected, sorted and reported together rather than
//! stopping at the first, so an operator fixes a file in one pass.

use std::fmt;

/// One broken rule, with the place it was found (a topic-partition, a
/// broker, or a path in the file) first so sorted output groups by place.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Problem {
    pub location: String,
    pub message: String,
}

impl Problem {
    pub fn new(location: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            location: location.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.location.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.location, self.message)
        }
    }
}

/// A non-empty, sorted, de-duplicated list of problems.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Problems {
    /// What was being read, e.g. "plan.json" or "snapshot".
    pub input: String,
    pub problems: Vec<Problem>,
}

impl Problems {
    /// `Ok(())` when `problems` is empty, otherwise the sorted list.
    pub fn check(source: &str, mut problems: Vec<Problem>) -> Result<(), Problems> {
        if problems.is_empty() {
            return Ok(());
        }
        problems.sort();
        problems.dedup();
        Err(Problems {
            input: source.to_string(),
            problems,
        })
    }

    pub fn single(source: &str, problem: Problem) -> Problems {
        Problems {
            input: source.to_string(),
            problems: vec![problem],
        }
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}: {p}", self.input)?;
        }
        Ok(())
    }
}
