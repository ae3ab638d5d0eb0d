from typing import Optional

from mig.dsl import *


@AutoIncPK("id")
class Attachment:
    id: int
    file_name: str
    content: bytes
    thumbnail: bytes | None
    size_bytes: int | None
    checksum: Optional[str]
    compression_ratio: float | None
    preview: bytes


files = [
    Attachment(id=1, file_name="logo.png", content=b"\x89PNG", thumbnail=None, size_bytes=4,
               checksum="abc123", compression_ratio=0.75, preview=b""),
    Attachment(id=2, file_name="empty.txt", content=bytes(), thumbnail=bytes([0, 255]),
               size_bytes=None, checksum=None, compression_ratio=None, preview=b"\x01\x02\x03"),
]
