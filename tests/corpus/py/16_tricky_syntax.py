"""Mirror of 16_tricky_syntax.fsx. Most of that file is F# syntax (nested
comments, directives, `module`, attribute placement, `and` groups, access
modifiers, backticked names) with no Python counterpart; what carries over is
the schema: a forward reference in quotes (F#'s `and` group), a qualified
decorator name, a column named like a keyword, an extension union written on
one line, and a ViewSql with an SQL comment.
"""
from __future__ import annotations

import mig.dsl
from mig.dsl import *


@AutoIncPK("id")
@Unique("slug")
class Artist:
    id: int
    name: str
    slug: str
    latest_album: Album | None  # declared below: fine, like an F# `and` group


@AutoIncPK("id")
@Index("artist", "year")
class Album:
    id: int
    artist: Artist
    title: str
    year: int


@mig.dsl.PK("isrc")  # qualified name
@OnDeleteCascade("album")
@Default("durationSeconds", "0")
class Track:
    isrc: str
    album: Album
    type: str  # a keyword in SQL and F#, a plain name here
    duration_seconds: int
    position: int


class ArtistExtra(Union): WithBio = Case(Artist, bio=str)


@ViewSql("""SELECT a.name AS artist, COUNT(al.id) AS albums
  FROM artist a LEFT JOIN album al ON al.artist_id = a.id
  -- a comment inside the SQL; "quoted" stays as written
  GROUP BY a.id, a.name""")
class ArtistAlbumCount:
    artist: str
    albums: int
