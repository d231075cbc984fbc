"""A damaged warehouse is refused before any job opens it, with what to do next.

A warehouse cut short (a full disk during a copy, a restore interrupted) used to be opened,
written into, and then fail deep inside a step with DuckDB's own words ("Corrupt database
file: computed checksum … does not match", "Could not read enough bytes"). Every job checks
the file when it takes the warehouse (``dti.warehouse_lock.hold``): the size DuckDB's header
admits against the size on disk, read from the first 12 KiB without DuckDB, so nothing is
written into a damaged file and the check costs nothing on a sound one.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

# DuckDB's storage layout (format 64+, DuckDB 0.10 to 2.x): a main header block with the magic
# "DUCK" at offset 8, then two database headers of 4 KiB at 4096 and 8192, each a checksum and
# (iteration, meta_block, free_list, block_count, block_alloc_size, …). The active header is
# the one with the higher iteration. The file is the three header blocks and whole blocks
# after them (trailing free blocks may be cut off, so block_count is not the file's size),
# and the blocks the active header points at are among them.
_HEADER = 4096
_MAGIC = b"DUCK"
_FIELDS = struct.Struct("<5Q")
_BLOCK_ID = (1 << 56) - 1
_NONE = (1 << 64) - 1


class WarehouseDamaged(RuntimeError):
    """The warehouse file is not whole; nothing was read from it or written into it."""


def damaged(warehouse: Path, why: str) -> WarehouseDamaged:
    return WarehouseDamaged(
        f"kho dữ liệu {warehouse} bị hỏng ({why}); không tác vụ nào ghi vào tệp này. Khôi phục "
        "tệp từ bản sao lưu gần nhất (giữ tệp hỏng ở chỗ khác để kiểm tra) rồi chạy lại. — "
        f"The warehouse {warehouse} is damaged ({why}); nothing was written into it. Restore "
        "it from the latest backup (keep the damaged file aside for inspection) and run again"
    )


def check_whole(warehouse: Path) -> None:
    """Raises ``WarehouseDamaged`` when ``warehouse`` is shorter than its header says, or its
    header is not DuckDB's. An absent or empty file is not damaged: a job creates it."""
    try:
        with open(warehouse, "rb") as f:
            head = f.read(3 * _HEADER)
            size = os.fstat(f.fileno()).st_size
    except FileNotFoundError:
        return
    if size == 0:
        return
    if len(head) < 3 * _HEADER or head[8:12] != _MAGIC:
        raise damaged(warehouse, f"{size:,} bytes, no DuckDB header")
    best = None
    for offset in (_HEADER, 2 * _HEADER):
        iteration, meta_block, free_list, _, block_size = _FIELDS.unpack_from(head, offset + 8)
        if best is None or iteration > best[0]:
            best = (iteration, meta_block, free_list, block_size)
    _, meta_block, free_list, block_size = best
    if not (4096 <= block_size <= 1 << 30):
        return  # a layout this check does not know: DuckDB's own checks decide
    blocks, rest = divmod(size - 3 * _HEADER, block_size)
    if rest:
        raise damaged(
            warehouse,
            f"{size:,} bytes, not a whole number of its {block_size:,}-byte blocks: the file "
            "was cut short",
        )
    # the catalog's first block and the free list's (a block id in the low 56 bits, the
    # entry's index in the high 8; all ones is none) must be in the file
    for pointer in (meta_block, free_list):
        block = pointer & _BLOCK_ID
        if pointer != _NONE and block >= blocks:
            raise damaged(
                warehouse,
                f"{size:,} bytes, {blocks:,} blocks, but its catalog is in block {block:,}: the "
                "file was cut short",
            )
