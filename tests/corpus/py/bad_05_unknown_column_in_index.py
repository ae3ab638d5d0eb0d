from mig.dsl import *


@AutoIncPK("id")
@Index("emial")
class Subscriber:
    id: int
    email: str
    list_name: str
