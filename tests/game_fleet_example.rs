//! The game-server fleet example runs to completion on a manual clock: concurrent
//! allocations get distinct servers, Packed prefers the fullest node, a crashed and a hung
//! server are marked Unhealthy and replaced, racing allocations never share a server, and
//! the autoscaler keeps the buffer.

#[path = "../examples/game_fleet.rs"]
#[allow(dead_code)]
mod game_fleet;

use std::sync::{Arc, Mutex};

#[test]
fn the_game_fleet_scenario_allocates_heals_and_keeps_its_buffer() {
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = lines.clone();
    let say: game_fleet::Say = Arc::new(move |l: &str| sink.lock().unwrap().push(l.to_string()));
    let scenario = game_fleet::Scenario::short().on_manual_clock();
    let outcome = match game_fleet::run(&scenario, say) {
        Ok(o) => o,
        Err(e) => panic!("{e}\n{}", lines.lock().unwrap().join("\n")),
    };
    let log = lines.lock().unwrap().join("\n");
    assert_eq!(outcome.problems(), Vec::<String>::new(), "{log}");

    let granted: Vec<_> = outcome
        .concurrent
        .iter()
        .filter(|a| a.state == "Allocated")
        .collect();
    assert_eq!(granted.len(), 2, "{log}");
    assert_ne!(granted[0].game_server, granted[1].game_server);
    assert!(outcome.packed.holds(), "{:?}", outcome.packed);
    // The check means something: Ready servers sat on more than one node.
    assert!(outcome.packed.ready_nodes.len() > 1, "{:?}", outcome.packed);
    assert!(
        outcome.crashed.reason.contains("Panicked"),
        "{:?}",
        outcome.crashed
    );
    assert!(
        outcome.hung.reason.contains("liveness"),
        "{:?}",
        outcome.hung
    );
    assert_ne!(outcome.crashed.victim, outcome.hung.victim);
    assert_eq!(
        outcome.end,
        game_fleet::FleetCounts {
            replicas: 3,
            ready: 3,
            allocated: 0
        },
        "{log}"
    );
    // It printed what happened as it went.
    assert!(log.contains("allocation match-1: "), "{log}");
    assert!(log.contains(": Unhealthy ("), "{log}");
}
