from typing import Optional

from mig.dsl import *


@AutoIncPK("id")
class Workspace:
    id: int
    title: str


@PK("code")
class Locale:
    code: str
    name: str


@AutoIncPK("id")
@OnDeleteCascade("workspace")
@OnDeleteSetNull("copiedFromId")
class Page:
    id: int
    workspace: Workspace
    copied_from: Optional[Workspace]
    locale: Locale
    body: str
