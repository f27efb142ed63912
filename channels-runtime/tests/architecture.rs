//! The runtime's module graph has no cycles but the `Channel`/`Socket` trait pair: each idea has one home, and
//! a module only reaches the ones below it. ARCHITECTURE.md draws the graph this test checks.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// The one cycle allowed: a socket handler routes to channels, and a channel names its socket handler.
const ALLOWED_CYCLE: [&str; 2] = ["channel", "socket"];

/// Modules left out: the crate root, which only declares and re-exports, and the fuzzing entry points, which
/// reach into everything and are reached by nothing.
const LEFT_OUT: [&str; 2] = ["lib", "fuzz"];

#[test]
fn the_module_graph_has_no_cycles_but_the_channel_socket_pair() {
    let graph = module_graph();
    let cycles: Vec<BTreeSet<String>> = strongly_connected(&graph).into_iter().filter(|c| c.len() > 1).collect();
    let allowed: BTreeSet<String> = ALLOWED_CYCLE.iter().map(|m| m.to_string()).collect();
    assert!(cycles.iter().all(|c| *c == allowed), "module cycles: {cycles:?}\ngraph: {graph:#?}");
}

#[test]
fn modules_import_through_module_paths_not_the_root_reexports() {
    // `use crate::{Channel, ..}` would hide which module a name comes from, and so a cycle, from the test above.
    let root_imports: Vec<String> = sources()
        .iter()
        .flat_map(|(module, text)| {
            text.lines()
                .filter(|l| l.contains("crate::{") || l.contains("crate::*"))
                .map(move |l| format!("{module}: {l}"))
        })
        .collect();
    assert!(root_imports.is_empty(), "imports of the crate root's re-exports: {root_imports:#?}");
}

/// Each top-level module and the top-level modules it names through `crate::`.
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let sources = sources();
    let modules: BTreeSet<String> = sources.iter().map(|(m, _)| m.clone()).collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = modules.iter().map(|m| (m.clone(), BTreeSet::new())).collect();
    for (module, text) in &sources {
        for (_, rest) in text.match_indices("crate::").map(|(i, _)| ((), &text[i + "crate::".len()..])) {
            let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if name != *module && modules.contains(&name) {
                graph.get_mut(module).expect("every module has a node").insert(name);
            }
        }
    }
    graph
}

/// `(top-level module, source text without its test modules)` for every file under `src/`.
fn sources() -> Vec<(String, String)> {
    let mut out = Vec::new();
    collect(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), None, &mut out);
    out.retain(|(module, _)| !LEFT_OUT.contains(&module.as_str()));
    out
}

fn collect(dir: &Path, top: Option<&str>, out: &mut Vec<(String, String)>) {
    for entry in fs::read_dir(dir).expect("src is readable") {
        let path = entry.expect("a directory entry").path();
        let stem = path.file_stem().and_then(|s| s.to_str()).expect("UTF-8 file names").to_owned();
        let module = top.unwrap_or(&stem).to_owned();
        if path.is_dir() {
            collect(&path, Some(&module), out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = fs::read_to_string(&path).expect("a readable source file");
            // Unit tests may reach anywhere, and a doc link is a pointer for the reader: only the modules'
            // code makes the architecture.
            let code = text.find("#[cfg(test)]\nmod tests").map_or(text.as_str(), |i| &text[..i]);
            let code: Vec<&str> = code.lines().filter(|l| !l.trim_start().starts_with("//")).collect();
            out.push((module, code.join("\n")));
        }
    }
}

/// Tarjan's strongly connected components.
fn strongly_connected(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<BTreeSet<String>> {
    struct State<'a> {
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        components: Vec<BTreeSet<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in &s.graph[v] {
            if !s.index.contains_key(w.as_str()) {
                visit(s, w);
                let low = s.low[v].min(s.low[w.as_str()]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w.as_str()) {
                let low = s.low[v].min(s.index[w.as_str()]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = BTreeSet::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.insert(w.to_owned());
                if w == v {
                    break;
                }
            }
            s.components.push(component);
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        components: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.components
}

#[test]
fn finds_a_cycle_when_there_is_one() {
    let graph: BTreeMap<String, BTreeSet<String>> = [("a", &["b"][..]), ("b", &["c"]), ("c", &["a"]), ("d", &["a"])]
        .into_iter()
        .map(|(m, to)| (m.to_owned(), to.iter().map(|t| t.to_string()).collect()))
        .collect();
    let cycles: Vec<_> = strongly_connected(&graph).into_iter().filter(|c| c.len() > 1).collect();
    assert_eq!(cycles, [["a", "b", "c"].into_iter().map(String::from).collect::<BTreeSet<_>>()]);
}
