from mig.dsl import *


@PK("code")
class Role:
    code: str
    title: str


@AutoIncPK("id")
class Permission:
    id: int
    action: str
    weight: float


# A link table without a key: seed rows are inserted unless an identical row exists.
class Grant:
    role: Role
    permission: Permission


@PK("key")
class Setting:
    key: str
    value: str | None
    ordinal: int


admin = Role(code="admin", title="Administrator")
viewer = Role(code="viewer", title='Read-only "viewer"')

permissions = [
    Permission(id=1, action="read", weight=1.0),
    Permission(id=2, action="write", weight=2.5),
    Permission(id=3, action="delete", weight=-0.5),
]

# admin and viewer are already seed rows: repeating identical rows is harmless.
roles = (admin, viewer)

# A nested instance only supplies its key; it is not a seed row by itself.
grants = [
    Grant(role=admin, permission=Permission(id=1, action="read", weight=1.0)),
    Grant(role=admin, permission=Permission(id=2, action="write", weight=2.5)),
    Grant(role=viewer, permission=permissions[0]),
]

theme = Setting(key="theme", value="dark", ordinal=1)
motd = replace(theme, key="motd", value=None, ordinal=2)  # copy and update
banner = Setting(key="banner", value="Line one\nLine two\t(tab)", ordinal=3)
