"""JSON Schemas of every served kind, defaulting, validation, the CRD generator and the YAML loader.

Public API (see docs/contracts.md §1):

    from schemas.validation import validate, Problem
    from schemas.defaults import with_defaults
    from schemas.durations import parse_duration
    from schemas.loader import load_documents, InputError
"""
