from mig.dsl import *


class Country:
    code: str
    name: str


@AutoIncPK("id")
class City:
    id: int
    name: str
    country: Country
