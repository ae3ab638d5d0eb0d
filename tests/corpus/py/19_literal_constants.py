from mig.dsl import *

# F#'s [<Literal>] constants are plain Python constants.
DEFAULT_CURRENCY = "EUR"
ACTIVE_FILTER = "WHERE p.archived = 0"
PRICE_LIST_SQL = (
    "SELECT p.sku AS sku, p.price AS price, p.currency AS currency "
    + "FROM product p " + ACTIVE_FILTER
)


@AutoIncPK("id")
@Default("currency", DEFAULT_CURRENCY)
@Default("archived", "0")
@Unique("sku")
class Product:
    id: int
    sku: str
    price: float
    currency: str
    archived: int


@ViewSql(PRICE_LIST_SQL)
class PriceList:
    sku: str
    price: float
    currency: str


products = [
    Product(id=1, sku="TEA-01", price=4.5, currency=DEFAULT_CURRENCY, archived=0),
    Product(id=2, sku="TEA-02", price=6, currency="USD", archived=1),  # an int for a float is fine
]
