from mig.dsl import *


# Table `customer` is now `client`; column `full_name` is now `display_name`;
# columns `fax_number` and `legacy_flags` are dropped on purpose.
@AutoIncPK("id")
@PreviousName("Customer")
@DropColumn("faxNumber")
@DropColumn("legacy_flags")
class Client:
    id: int
    display_name: Annotated[str, PreviousName("fullName")]
    email: str


# A reference column is renamed by its column name: buyer_id -> client_id.
@AutoIncPK("id")
class Purchase:
    id: int
    client: Annotated[Client, PreviousName("buyer_id")]
    total: float


# DropTable may sit on any class of the schema, including a union.
@DropTable("audit_trail")
@DropTable("SessionToken")
class Retired(Union):
    Retired = Case()
