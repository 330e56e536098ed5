//! The text of a GitOps pull request: what changed in words, the diff of the worker entry
//! against the base branch, the secrets the customer must set (names only), and a hidden marker
//! with the revision and content hash by which the control plane recognises its own pull
//! requests.

use std::fmt::Write as _;

/// The marker's prefix: `<!-- c15t-control-plane revision=<n> hash=<content hash> -->`.
const MARKER: &str = "<!-- c15t-control-plane";

/// What a pull request says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PullRequestText<'a> {
    /// The customer's id.
    pub customer: &'a str,
    /// The environment.
    pub environment: &'a str,
    /// The config revision the project was generated from.
    pub revision: u64,
    /// The project's content hash (`sha256:<hex>`).
    pub content_hash: &'a str,
    /// What changed, one sentence each (`Destination meta-prod added.`); secrets only by
    /// fingerprint.
    pub changes: Vec<String>,
    /// The unified diff of `src/index.ts` against the base branch, if it changed.
    pub entry_diff: Option<String>,
    /// Secret bindings the worker needs that the base branch's project did not.
    pub new_secrets: Vec<String>,
}

impl PullRequestText<'_> {
    /// The title: `c15t: <customer> <environment> (revision <n>)`.
    pub fn title(&self) -> String {
        format!(
            "c15t: {} {} (revision {})",
            self.customer, self.environment, self.revision
        )
    }

    /// The body, in GitHub and GitLab Markdown.
    pub fn body(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "The c15t control plane regenerated the `{}` worker of `{}` from configuration \
             revision {}.\n",
            self.environment, self.customer, self.revision
        );
        out.push_str("## What changed\n\n");
        if self.changes.is_empty() {
            out.push_str("- The generated project changed (no destination changed).\n");
        }
        for change in &self.changes {
            let _ = writeln!(out, "- {}", one_line(change));
        }
        if let Some(diff) = &self.entry_diff {
            let fence = fence_for(diff);
            let _ = write!(
                out,
                "\n## `src/index.ts`\n\n{fence}diff\n{}{}{fence}\n",
                diff,
                if diff.ends_with('\n') { "" } else { "\n" }
            );
        }
        if !self.new_secrets.is_empty() {
            out.push_str("\n## Secrets to set before deploying\n\n");
            for name in &self.new_secrets {
                let _ = writeln!(out, "- `wrangler secret put {}`", one_line(name));
            }
        }
        let _ = write!(
            out,
            "\n{MARKER} revision={} hash={} -->\n",
            self.revision,
            one_line(self.content_hash).replace("--", "")
        );
        out
    }
}

/// The revision and content hash a body's marker names, if it has one: how the control plane
/// tells its own pull requests (and which revision they hold) from others.
pub fn marker(body: &str) -> Option<(u64, String)> {
    let line = body.lines().rev().find(|l| l.starts_with(MARKER))?;
    let rest = line.strip_prefix(MARKER)?.strip_suffix("-->")?.trim();
    let mut revision = None;
    let mut hash = None;
    for part in rest.split_whitespace() {
        if let Some(n) = part.strip_prefix("revision=") {
            revision = n.parse().ok();
        } else if let Some(h) = part.strip_prefix("hash=") {
            hash = Some(h.to_owned());
        }
    }
    Some((revision?, hash?))
}

/// `text` on one line (a change sentence or a name cannot start a new Markdown block).
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// A code fence longer than any run of backticks in `text`, so the text cannot close it.
fn fence_for(text: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    "`".repeat(longest.max(2) + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text() -> PullRequestText<'static> {
        PullRequestText {
            customer: "cust_abc123",
            environment: "production",
            revision: 7,
            content_hash: "sha256:abc",
            changes: vec![
                "Destination `meta-prod` added.".to_owned(),
                "Setting `ga4.measurementId` changed from `G-1` to `G-2`.".to_owned(),
            ],
            entry_diff: Some("-a\n+b\n".to_owned()),
            new_secrets: vec!["META_PROD_ACCESS_TOKEN".to_owned()],
        }
    }

    #[test]
    fn the_body_says_what_changed_and_carries_its_marker() {
        let body = text().body();
        assert!(
            body.contains("- Destination `meta-prod` added.\n"),
            "{body}"
        );
        assert!(body.contains("```diff\n-a\n+b\n```\n"), "{body}");
        assert!(
            body.contains("- `wrangler secret put META_PROD_ACCESS_TOKEN`\n"),
            "{body}"
        );
        assert_eq!(marker(&body), Some((7, "sha256:abc".to_owned())));
        assert_eq!(text().title(), "c15t: cust_abc123 production (revision 7)");
    }

    #[test]
    fn text_cannot_break_out_of_its_place() {
        let mut t = text();
        t.changes = vec!["line one\n## Injected heading".to_owned()];
        t.entry_diff = Some("+const s = `a` + ```b```;\n".to_owned());
        t.content_hash = "sha256:x --> <script>";
        let body = t.body();
        assert!(!body.contains("\n## Injected heading"), "{body}");
        assert!(body.contains("````diff\n"), "{body}");
        // The marker stays one comment: the hash cannot end it early.
        let last = body.lines().last().unwrap();
        assert_eq!(last.matches("-->").count(), 1, "{last}");
    }

    #[test]
    fn bodies_without_a_marker_are_not_ours() {
        assert_eq!(marker("A pull request somebody else opened."), None);
        assert_eq!(
            marker("<!-- c15t-control-plane revision=x hash=y -->"),
            None
        );
    }
}
