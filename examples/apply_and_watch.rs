//! Applies manifests and prints the store's watch stream while it changes them.
//!
//! ```text
//! cargo run --example apply_and_watch -- [FILE...]    # default: examples/manifests/web.yaml
//! ```
//!
//! It applies the files, prints what apply did (and the fields it keeps but does not
//! implement), then scales the Deployment, re-applies the files (restoring the declared state:
//! nothing else changes), deletes the Widget, and prints every watch event on the way.

use std::time::Duration;
use steady::api::Deployment;
use steady::client::DeleteParams;
use steady::store::{WatchEvent, WatchParams};
use steady::Engine;

fn print_events(w: &mut steady::store::Watch) {
    while let Ok(Some(ev)) = w.recv_timeout(Duration::from_millis(20)) {
        if let WatchEvent::Bookmark(r) = ev {
            println!("  BOOKMARK at revision {r}");
            continue;
        }
        let o = ev.object().expect("not a bookmark");
        let m = o.meta();
        println!(
            "  {:8} {}/{} {} resourceVersion={} generation={}",
            ev.type_name(),
            o.kind(),
            m.namespace.as_deref().unwrap_or("-"),
            m.name,
            m.resource_version.as_deref().unwrap_or(""),
            m.generation.unwrap_or(0)
        );
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut files: Vec<String> = std::env::args().skip(1).collect();
    if files.is_empty() {
        files.push(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/manifests/web.yaml").to_string());
    }
    let engine = Engine::builder().build()?;
    let text = files
        .iter()
        .map(std::fs::read_to_string)
        .collect::<Result<Vec<_>, _>>()?
        .join("\n---\n");

    let report = engine.apply(&text)?;
    println!("apply:");
    for a in &report.objects {
        println!(
            "  {} {:?} (resourceVersion {})",
            a.object, a.action, a.resource_version
        );
    }
    for w in &report.warnings {
        println!("  warning: {w}");
    }

    let mut deployments = engine
        .store()
        .watch("Deployment", &WatchParams::default())?;
    let mut widgets = engine.store().watch("Widget", &WatchParams::default())?;
    println!("watch (initial state):");
    print_events(&mut deployments);
    print_events(&mut widgets);

    println!("scale web to 5 (a merge patch):");
    engine
        .api::<Deployment>()
        .patch("web", &serde_json::json!({"spec": {"replicas": 5}}))?;
    print_events(&mut deployments);

    println!("apply the same files again (declared replicas: 3):");
    let again = engine.apply(&text)?;
    for a in &again.objects {
        println!("  {} {:?}", a.object, a.action);
    }
    print_events(&mut deployments);

    println!("delete the Widget:");
    engine
        .dynamic("example.com/v1", "Widget")?
        .delete("blue", &DeleteParams::default())?;
    print_events(&mut widgets);

    engine.shutdown();
    Ok(())
}
