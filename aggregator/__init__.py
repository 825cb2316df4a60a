"""Floor's pipeline, folder by folder: ingest (the platforms into Redis), the core (questions
and the moderators' actions), the log's followers (triage, the ledger, the record, retention),
and the base they all stand on."""
