"""The e-conomic export of invoice drafts (issue 5): request model, pure rules, service, handlers."""
