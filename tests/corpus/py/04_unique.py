from mig.dsl import *


@AutoIncPK("id")
@Unique("handle")
@Unique("team", "jersey_number")
@Unique("team", "jerseyNumber")  # the same constraint again: counted once
class Player:
    id: int
    handle: str
    team: str
    jersey_number: int
