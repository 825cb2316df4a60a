"""The base every part stands on: key names, settings and the platform catalogue, reaching
Redis, redaction."""
