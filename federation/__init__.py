"""ActivityPub plumbing that knows nothing of listings or pages.

Signatures, the HTTP client and its SSRF guard, fetching, payload limits,
WebFinger and NodeInfo documents, the delivery queue and retry policy, the
inbox store, domain policy. Imports only ``config``.
"""
