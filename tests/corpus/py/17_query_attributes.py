from mig.dsl import *


# Query attributes are checked (their columns must resolve) and recorded for
# code generation. They do not change the schema at all.
@AutoIncPK("id")
@SelectAll(order_by="lastName, firstName")
@SelectBy("last_name", "first_name")
@SelectBy("last_name", order_by="hiredOn DESC")
@SelectOneBy("email")
@SelectOneBy("department", order_by="hired_on ASC")
@SelectLike("last_name")
@SelectByOrInsert("email")
@InsertOrIgnore
@UpdateBy("email")
@DeleteBy("id")
@OrderBy("last_name DESC")
class Employee:
    id: int
    first_name: str
    last_name: str
    email: str
    department: str
    hired_on: str


@ViewSql("SELECT department, COUNT(*) AS headcount FROM employee GROUP BY department")
@SelectAll(order_by="headcount DESC")
@SelectBy("department")
class DepartmentSize:
    department: str
    headcount: int
