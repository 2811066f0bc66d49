"""ECB euro foreign exchange reference rates as data: `rates.py` chooses a DSR's EUR rate from
them; `history.py` reads the ECB's history file, `sources.py` fetches it (or takes the bundled
copy), `storage.py` keeps it in PostgreSQL, `update.py` is what update_ecb_rates runs."""
