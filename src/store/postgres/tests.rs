//! Tests against a live PostgreSQL (`FEEDCRAWLER_TEST_PG`); skipped when it is unset.
