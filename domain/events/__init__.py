"""Live fan-out of domain events to GraphQL subscriptions."""
