//! Workloads as the tests write them: manifests and the states they wait for.

use steady::api::conditions::find_condition;
use steady::api::Deployment;
use steady::controllers::deployment;
use steady::Engine;

/// A Deployment `name` as YAML, its pods labelled `app: <name>`: `replicas` (`None`: left
/// unset), further `spec` fields `more` (whole lines indented by two spaces, or nothing) and
/// the pod template's spec `pod` (a YAML flow mapping, e.g. [`one_container`]).
pub fn deployment(name: &str, replicas: Option<i32>, more: &str, pod: &str) -> String {
    let replicas = replicas.map_or(String::new(), |r| format!("  replicas: {r}\n"));
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
{replicas}{more}  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec: {pod}
"
    )
}

/// A pod spec (YAML flow mapping) with one container, `main`, running `image`.
pub fn one_container(image: &str) -> String {
    format!("{{containers: [{{name: main, image: '{image}'}}]}}")
}

/// The rollout of Deployment `name`'s current template is complete: status observed the
/// current generation, every replica is updated and available, and `Progressing` says
/// `NewReplicaSetAvailable`.
pub fn rollout_complete(e: &Engine, name: &str) -> bool {
    let d = e.api::<Deployment>().get(name).unwrap();
    let n = deployment::replicas(&d);
    let Some(st) = d.status.as_ref() else {
        return false;
    };
    st.observed_generation == d.metadata.generation
        && st.updated_replicas == Some(n)
        && st.replicas == Some(n)
        && st.available_replicas == Some(n)
        && find_condition(&st.conditions, "Progressing")
            .is_some_and(|c| c.reason.as_deref() == Some("NewReplicaSetAvailable"))
}
