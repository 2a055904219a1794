"""One module per subject; each registers its collector with ``@register`` on import."""
