from mig.dsl import *


@AutoIncPK("id")
@Unique("email")
@PK("id")
class Account:
    id: int
    email: str
