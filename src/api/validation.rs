//! Name and label validation, as Kubernetes does it (DNS-1123, qualified names).
