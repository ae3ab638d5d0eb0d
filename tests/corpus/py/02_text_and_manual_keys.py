from mig.dsl import *


@PK("code")  # text primary key
class Currency:
    code: str
    symbol: str
    decimals: int


# Integer key assigned by the application (no AUTOINCREMENT), not the first field.
@PK("level_no")
class ShippingLevel:
    label: str
    level_no: int
