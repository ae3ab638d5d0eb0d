from mig.dsl import *


@AutoIncPK("id")
class Ward:
    id: int
    name: str


@AutoIncPK("id")
@Index("last_name")
@Index("last_name", "first_name")
@Index("ward")  # a reference field: ix_patient_ward_id
@Index("lastName")  # same index as the first one: counted once
class Patient:
    id: int
    first_name: str
    last_name: str
    ward: Ward
