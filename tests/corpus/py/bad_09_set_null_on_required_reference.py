from mig.dsl import *


@AutoIncPK("id")
class Team:
    id: int
    name: str


# team is required (not an option), so ON DELETE SET NULL could never succeed.
@AutoIncPK("id")
@OnDeleteSetNull("team")
class Developer:
    id: int
    name: str
    team: Team
