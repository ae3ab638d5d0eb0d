"""A class with no key attribute becomes a rowid table with no declared key."""
from mig.dsl import *


class Measurement:
    sensor: str
    reading: float
    taken_at: int
