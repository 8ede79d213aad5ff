//! Git repositories made by tests, with gitoxide (no `git` binary): commits of whole trees given
//! as paths and contents, on any branch, with the time given, and tags.

use std::collections::BTreeMap;
use std::path::Path;

use gix::ObjectId;
use gix::objs::tree::{Entry, EntryKind};

/// A repository a test writes commits into.
pub struct GitRepo {
    repo: gix::Repository,
}

enum Node {
    File(Vec<u8>),
    Dir(BTreeMap<String, Node>),
}

impl GitRepo {
    /// A new repository with a work tree (`.git` inside `dir`).
    pub fn init(dir: &Path) -> Self {
        Self { repo: gix::init(dir).expect("a new repository") }
    }

    /// A new bare repository in `dir`.
    pub fn init_bare(dir: &Path) -> Self {
        Self { repo: gix::init_bare(dir).expect("a new bare repository") }
    }

    /// Commits the tree holding exactly `files` (path, content) on `branch` atop its tip (a root
    /// commit when the branch is new), committed at `seconds` since the epoch; its id in hex.
    pub fn commit(&self, branch: &str, files: &[(&str, &[u8])], seconds: i64) -> String {
        let reference = format!("refs/heads/{branch}");
        let parent = self.tip(&reference);
        self.commit_on(&reference, files, parent.into_iter().collect(), seconds)
    }

    /// Commits `files` on `branch` (which must not exist yet) with `parents` (hex ids).
    pub fn commit_with_parents(&self, branch: &str, files: &[(&str, &[u8])], parents: &[&str], seconds: i64) -> String {
        let parents = parents.iter().map(|id| ObjectId::from_hex(id.as_bytes()).expect("a commit id")).collect();
        self.commit_on(&format!("refs/heads/{branch}"), files, parents, seconds)
    }

    /// A lightweight tag named `name` on `target` (hex id).
    pub fn tag(&self, name: &str, target: &str) {
        let id = ObjectId::from_hex(target.as_bytes()).expect("an object id");
        self.repo
            .reference(format!("refs/tags/{name}").as_str(), id, gix::refs::transaction::PreviousValue::Any, "tag")
            .expect("a tag");
    }

    /// Deletes the branch `branch`: its commits stay reachable only through other refs, if any.
    pub fn delete_branch(&self, branch: &str) {
        self.repo
            .find_reference(format!("refs/heads/{branch}").as_str())
            .expect("the branch")
            .delete()
            .expect("deleted");
    }

    fn tip(&self, reference: &str) -> Option<ObjectId> {
        let mut found = self.repo.try_find_reference(reference).expect("readable refs")?;
        Some(found.peel_to_id().expect("a commit").detach())
    }

    fn commit_on(&self, reference: &str, files: &[(&str, &[u8])], parents: Vec<ObjectId>, seconds: i64) -> String {
        let mut root = BTreeMap::new();
        for (path, content) in files {
            let mut dir = &mut root;
            let parts: Vec<&str> = path.split('/').collect();
            for part in &parts[..parts.len() - 1] {
                let node = dir.entry((*part).to_owned()).or_insert_with(|| Node::Dir(BTreeMap::new()));
                dir = match node {
                    Node::Dir(children) => children,
                    Node::File(_) => panic!("{path}: a file is in the way"),
                };
            }
            dir.insert(parts[parts.len() - 1].to_owned(), Node::File(content.to_vec()));
        }
        let tree = self.write_tree(&root);
        let time = format!("{seconds} +0000");
        let signature =
            gix::actor::SignatureRef { name: "Test".into(), email: "test@rampart.test".into(), time: time.as_str() };
        self.repo
            .commit_as(signature, signature, reference, "a commit", tree, parents)
            .expect("a commit")
            .detach()
            .to_hex()
            .to_string()
    }

    fn write_tree(&self, dir: &BTreeMap<String, Node>) -> ObjectId {
        let mut entries: Vec<Entry> = dir
            .iter()
            .map(|(name, node)| match node {
                Node::File(content) => Entry {
                    mode: EntryKind::Blob.into(),
                    filename: name.as_str().into(),
                    oid: self.repo.write_blob(content).expect("a blob").detach(),
                },
                Node::Dir(children) => Entry {
                    mode: EntryKind::Tree.into(),
                    filename: name.as_str().into(),
                    oid: self.write_tree(children),
                },
            })
            .collect();
        entries.sort();
        self.repo.write_object(gix::objs::Tree { entries }).expect("a tree").detach()
    }
}
