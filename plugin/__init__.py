"""`kubectl-zkstash`: the kubectl plugin for zkstash's KubeStash-style resources.

`kubectl zkstash trigger|pause|resume|snapshots|download|describe|completion` — see
docs/kubectl-plugin.md. Commands that talk to a cluster use the official `kubernetes` client
with kubectl's kubeconfig conventions; `describe` runs the hooks' own functions offline.
"""
