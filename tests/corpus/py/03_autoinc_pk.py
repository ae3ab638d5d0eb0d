from mig.dsl import *


# The argument matches the field name ignoring case ("ID" finds field "id").
@AutoIncPK("ID")
class Invoice:
    id: int
    customer_name: str
    total: float
