"""Helpers that tests and benchmarks share: free ports, a gunicorn launcher, a JWKS server that
signs tokens, and a load generator. Never imported by the services."""
