"""Use cases: what a person or a remote server can make happen, one module per aggregate."""
