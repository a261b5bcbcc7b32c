"""The ConfigMap of a producer's live settings: the operator writes it, the producer watches it."""

#: The key whose value is the live settings document (YAML, camelCase fields).
CONFIG_KEY = "settings.yaml"
