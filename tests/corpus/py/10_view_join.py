from mig.dsl import *


@AutoIncPK("id")
class Warehouse:
    id: int
    name: str


@AutoIncPK("id")
class Bin:
    id: int
    code: str
    warehouse: Warehouse


@AutoIncPK("id")
class StockItem:
    id: int
    sku: str
    quantity: int
    bin: Bin


# View fields in snake_case are matched as camelCase: warehouse_name is
# warehouseName (prefix "warehouse" + column name).
@View
@Join(StockItem, Bin)
@Join(Bin, Warehouse)
class BinStock:
    warehouse_name: str
    bin_code: str
    item_id: int
    sku: str
    quantity: int


north = Warehouse(id=1, name="North")
south = Warehouse(id=2, name="South")

bins = [
    Bin(id=10, code="A-01", warehouse=north),
    Bin(id=11, code="A-02", warehouse=north),
    Bin(id=20, code="S-01", warehouse=south),
]

stock = [
    StockItem(id=100, sku="BOLT-M6", quantity=500, bin=Bin(id=10, code="A-01", warehouse=north)),
    StockItem(id=101, sku="NUT-M6", quantity=750, bin=bins[0]),
    StockItem(id=102, sku="WASHER", quantity=0, bin=bins[1]),
    StockItem(id=103, sku="BOLT-M8", quantity=40, bin=bins[2]),
]
