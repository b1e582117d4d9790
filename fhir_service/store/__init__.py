"""Persistence of FHIR resources behind the `Repository` interface (SQLAlchemy: SQLite default, PostgreSQL)."""
