from mig.dsl import *


@AutoIncPK("id")
class Shelf:
    id: int
    label: str
    capacity: int


shelves = [
    Shelf(id=1, label="A", capacity=40),
    Shelf(id=2, label="B", capacity="12"),
]
