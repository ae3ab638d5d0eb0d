from mig.dsl import *


@AutoIncPK("id")
@Default("status", "queued")  # bare word -> 'queued'
@Default("attempts", 0)  # a Python number works as well as "0"
@Default("priority", "-1")
@Default("backoff_factor", 1.5)
@Default("note", "'n/a'")  # SQL string literal
@Default("label", "'worker''s choice'")
@Default("queued_at", "CURRENT_TIMESTAMP")
@Default("last_error", None)  # NULL
@DefaultExpr("run_after", "strftime('%s', 'now') + 60")
class Job:
    id: int
    status: str
    attempts: int
    priority: int
    backoff_factor: float
    note: str
    label: str
    queued_at: str
    last_error: str | None
    run_after: int
