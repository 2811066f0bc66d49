"""ECB euro foreign exchange reference rates as data: read from the ECB's history, stored in PostgreSQL."""
