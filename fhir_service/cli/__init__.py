"""The `fhir-service` command line: one subcommand module per job, all on the same engine."""
