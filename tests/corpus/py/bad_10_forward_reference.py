from mig.dsl import *


# Python needs quotes for a class declared further down, and then allows it
# (like an F# `and` group). Without quotes the name does not exist yet.
@AutoIncPK("id")
class Order:
    id: int
    customer: Customer
    placed_at: str


@AutoIncPK("id")
class Customer:
    id: int
    name: str
