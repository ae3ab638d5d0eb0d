"""`mig fleet`: one schema change over many databases (one per tenant).

Above the commands, below the CLI: tenants.py names each tenant's files,
ledger.py keeps each tenant's phase and result in an SQLite file of its own,
work.py is what runs for one tenant (in a worker process, local or on a Dask
cluster), runner.py plans them all, runs a canary, then waves under a
concurrency bound, and records every outcome.
"""
