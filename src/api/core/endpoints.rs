//! The [`Endpoints`] kind: the ready and not-ready addresses and the ports behind a Service,
//! written by the endpoints controller.

use super::{ObjectReference, PROTOCOLS};
use crate::api::validation::{check_enum, check_port_number, required};
use crate::api::{ApiVersion, Extra, FieldError, Kind, ObjectMeta};
use serde::{Deserialize, Serialize};

/// Endpoints (core/v1): the addresses behind a service, named after it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
pub struct Endpoints {
    /// `apiVersion`: always `v1`.
    #[serde(rename = "apiVersion", default)]
    pub api_version: ApiVersion<Self>,
    /// `kind`: always `Endpoints`.
    #[serde(default)]
    pub kind: Kind<Self>,
    /// `metadata`.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Sets of addresses sharing the same ports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subsets: Vec<EndpointSubset>,
    /// Unmodelled top-level fields.
    #[serde(flatten)]
    pub extra: Extra,
}

crate::impl_resource!(
    Endpoints,
    api_version = "v1",
    kind = "Endpoints",
    plural = "endpoints",
    namespaced = true,
    spec = [subsets, extra],
    status = [],
    validate = validate_endpoints
);

/// Admission checks of [`Endpoints`]: addresses have an IP, ports are in range.
pub fn validate_endpoints(ep: &Endpoints, errors: &mut Vec<FieldError>) {
    for (i, s) in ep.subsets.iter().enumerate() {
        let lists = [
            ("addresses", &s.addresses),
            ("notReadyAddresses", &s.not_ready_addresses),
        ];
        for (field, list) in lists {
            for (j, a) in list.iter().enumerate() {
                if a.ip.is_empty() {
                    errors.push(required(format!("subsets[{i}].{field}[{j}].ip"), ""));
                }
            }
        }
        for (j, p) in s.ports.iter().enumerate() {
            check_port_number(errors, format!("subsets[{i}].ports[{j}].port"), p.port);
            if let Some(proto) = &p.protocol {
                check_enum(
                    errors,
                    format!("subsets[{i}].ports[{j}].protocol"),
                    proto,
                    PROTOCOLS,
                );
            }
        }
    }
}

/// Addresses and the ports they all serve.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct EndpointSubset {
    /// Ready addresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<EndpointAddress>,
    /// Addresses not ready (yet).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_ready_addresses: Vec<EndpointAddress>,
    /// Ports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<EndpointPort>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One endpoint address.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct EndpointAddress {
    /// IP.
    #[serde(default)]
    pub ip: String,
    /// Hostname.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Node hosting the endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_name: Option<String>,
    /// The object (pod) behind the address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_ref: Option<ObjectReference>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One endpoint port.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct EndpointPort {
    /// Name (the service port's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Port number.
    #[serde(default)]
    pub port: i32,
    /// `TCP` (the default), `UDP` or `SCTP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Unmodelled fields (appProtocol).
    #[serde(flatten)]
    pub extra: Extra,
}

#[cfg(test)]
mod tests {
    use super::super::tests::fields;
    use super::*;
    use crate::api::Object;
    use serde_json::json;

    #[test]
    fn endpoints_validation_names_address_and_port_fields() {
        let ep: Endpoints = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "s"},
            "subsets": [{"addresses": [{"ip": "10.0.0.1"}], "notReadyAddresses": [{"ip": "10.0.0.2"}, {}],
                "ports": [{"port": 0, "protocol": "ICMP"}]}]
        }))
        .unwrap();
        let mut errors = Vec::new();
        ep.validate(&mut errors);
        assert_eq!(
            fields(&errors),
            vec![
                "subsets[0].notReadyAddresses[1].ip",
                "subsets[0].ports[0].port",
                "subsets[0].ports[0].protocol"
            ]
        );
    }
}
