from mig.dsl import *


# snake_case: '_' before an upper-case letter that follows a lower-case one,
# or that starts a new word after an acronym; never after a digit.
@AutoIncPK("requestID")
class HTTPRequestLog:
    requestID: int  # request_id
    userAgent: str  # user_agent
    myURLValue: str  # my_url_value
    address2Line: str  # address2line
    IOStream: str  # io_stream
    Mixed_Case: str  # mixed_case
    ABCd: int  # ab_cd
    aB: float  # a_b


@PK("tokenId")
class OAuth2Token:  # table o_auth2token
    tokenId: str
    scope: str


# Reference columns are named after the FIELD: owner_token -> owner_token_id.
@AutoIncPK("id")
class Account:
    id: int
    owner_token: OAuth2Token


# "With" is stripped as a bare prefix, so Withdrawal loses it too (account_drawal).
class AccountEvent(Union):
    WithOverdraftLimit = Case(Account, limit_cents=int)
    Withdrawal = Case(Account, amount=float)
    With = Case(Account, note=str)  # exactly "With": kept
