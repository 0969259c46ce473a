"""The certified "Tesseron Invoice" connector's actions: record work and list it back."""
