"""Container registries: OCI manifests, the skopeo choke point, credentials, online checks."""
