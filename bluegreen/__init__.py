"""Blue/green promotion and rollback between the colours of an environment (docs/blue-green.md)."""
