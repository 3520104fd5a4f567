"""One router per resource, each with its own prefix and tag; `main.create_app` includes them all.

Handlers validate, delegate to the ledger in a few lines, and let errors reach the error handlers.
"""
