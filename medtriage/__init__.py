"""The serving runtime: everything that answers a question once a model is published.

`layers` (the custom Keras layers of `triage.keras`), `pipeline` (a loaded version: question in,
triage and answers out), `retrieval`, `redflags`, `categories`, and `store` (the artifact store
and the published-version format). Training (`training/`) builds what this package loads; this
package never imports `training`.
"""
