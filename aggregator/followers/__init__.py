"""The log's followers: the loop they share, triage, the ledger and the record, retention,
fairness."""
