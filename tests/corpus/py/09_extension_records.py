from mig.dsl import *


@AutoIncPK("id")
class Vehicle:
    id: int
    plate: str


# Optional aspects as separate classes: ordinary tables with a foreign key to
# the base and no key of their own.
class VehicleInsurance:
    vehicle: Vehicle
    insurer: str
    policy_no: str


class VehicleInspection:
    vehicle: Vehicle
    inspected_on: str
    passed: int
