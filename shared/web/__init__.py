"""The HTTP edge: request and response types, the operation registry, the pipeline every
key-authenticated call goes through, the one table from domain errors to status codes, and the
OpenAPI document."""
