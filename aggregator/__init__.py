"""Floor's pollers and store: from the platforms into Redis, and the moderators' actions."""
