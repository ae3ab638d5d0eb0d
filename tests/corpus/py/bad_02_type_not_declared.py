from mig.dsl import *


# Account is not declared anywhere in this file.
@AutoIncPK("id")
class Wallet:
    id: int
    owner: "Account"
    balance: float
