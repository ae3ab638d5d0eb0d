from mig.dsl import *


@AutoIncPK("id")
class Invoice(
    id: int
    total: float


@AutoIncPK("id")
class Payment:
    id: int
    amount: float
