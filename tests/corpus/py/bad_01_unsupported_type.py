from mig.dsl import *


@AutoIncPK("id")
class Subscription:
    id: int
    plan: str
    is_active: bool
    renews_on: str
