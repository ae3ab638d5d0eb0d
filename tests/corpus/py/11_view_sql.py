from mig.dsl import *


@AutoIncPK("id")
class Region:
    id: int
    name: str


@AutoIncPK("id")
class Sale:
    id: int
    region: Region
    amount: float


# Declared first but it reads region_totals, so mig creates it after that view.
@ViewSql("""SELECT region, revenue
            FROM region_totals
            ORDER BY revenue DESC
            LIMIT 1""")
class TopRegion:
    region: str
    revenue: float


@ViewSql("""
  SELECT r.name AS region,
         COUNT(s.id) AS sale_count,
         SUM(s.amount) AS revenue
  FROM region r
  JOIN sale s ON s.region_id = r.id
  GROUP BY r.id, r.name;
""")
@SelectAll
class RegionTotals:
    region: str
    sale_count: int
    revenue: float


regions = [Region(id=1, name="Coast"), Region(id=2, name="Highlands")]

sales = [
    Sale(id=1, region=Region(id=1, name="Coast"), amount=120.5),
    Sale(id=2, region=Region(id=1, name="Coast"), amount=80.0),
    Sale(id=3, region=Region(id=2, name="Highlands"), amount=310.25),
]
