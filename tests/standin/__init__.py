"""A local stand-in for Kubernetes + Metacontroller: test bed of the e2e tests and `make demo`.

It is a test bed, not a product: an in-memory object store (`store`), a Metacontroller loop that
speaks the real webhook protocol over HTTP to the real hooks server (`metacontroller`), Jobs run as
local processes of the real executor (`jobs`), and a `kubectl`-like front (`kubectl`).
"""
