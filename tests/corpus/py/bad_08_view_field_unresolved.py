from mig.dsl import *


@AutoIncPK("id")
class Customer:
    id: int
    name: str
    email: str


@AutoIncPK("id")
class Order:
    id: int
    customer: Customer
    total: float


@View
@Join(Order, Customer)
class CustomerOrders:
    customer_name: str
    customer_phone: str
    total: float
