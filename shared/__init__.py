"""Invoice Bridge services. Nothing in this package imports `azure.functions`."""
