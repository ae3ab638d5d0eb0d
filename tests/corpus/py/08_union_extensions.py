from mig.dsl import *


@AutoIncPK("id")
class Member:
    id: int
    display_name: str


@PK("sku")
class Product:
    sku: str
    title: str


class MemberProfile(Union):
    WithEmail = Case(Member, email=str)  # member_email
    WithPostalAddress = Case(Member, street=str, city=str, zip=str | None)
    Phone = Case(Member, str)  # member_phone, unnamed -> value_1
    WithAvatar = Case(("owner", Member), ("image", bytes), int)  # unnamed 3rd -> value_2


class ProductExtra(Union):
    WithWeight = Case(Product, grams=int)
    Discontinued = Case()  # no fields: nothing
    Gift = Case(str, Product)  # first field not a record: nothing
    Tagged = Case(Product)  # fewer than 2 fields: nothing


class Colour(Union):  # an enum-like union produces no table
    Red = Case()
    Green = Case()
