"""One module per activity type; each exports ``handle(ctx, incoming)``.

A handler returns None when the activity did something, or a short reason
when it was ignored (unknown target, not addressed to us, nothing to do).
"""
