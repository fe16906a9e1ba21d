"""Farmland transfer (土地流转): records, progress, contiguous blocks, proposals, land shares.

The 2008 Nanhu plan (三、3) asks each town to transfer farmland use rights --
by lease (出租), shares (入股) or exchange (置换) -- toward scale farming,
through town and village transfer service centres: 凤桥镇 and 七星镇 more than
5,000 mu each, 新丰镇, 余新镇 and 大桥镇 at least 3,000 mu each.

=========================  ==================================================
module                     what it does
=========================  ==================================================
:mod:`.records`            import a service centre's table (CSV/Excel, Chinese
                           or English headings) onto the farmland layer;
                           rejected rows with a reason each, as a file
:mod:`.progress`           per town and village: mu transferred, share of the
                           farmland, by mode, by year; on track or short by
:mod:`.blocks`             contiguous operation blocks (across ditches and farm
                           roads, never across water), 百亩方 counts
:mod:`.proposals`          for a town short of its target: which parcels to
                           approach first (networkx + HiGHS MIP)
:mod:`.shares`             land shares (土地股权化) and dividends in a pooled block
=========================  ==================================================

Examples
--------
>>> from landplan.transfer import transfer_progress, operation_blocks, zh_headings
>>> callable(transfer_progress) and callable(operation_blocks)
True
"""

from ._common import HEADINGS_ZH, MODE_ZH, in_force, zh_headings
from .blocks import (OperationBlocks, adjacency_positions, block_summary, farmland_adjacency,
                     operation_blocks)
from .progress import parcel_transfer_state, progress_by_year, transfer_progress
from .proposals import TransferProposal, transfer_proposals
from .records import (TransferImport, apply_transfer_records, read_transfer_records,
                      records_from_farmland, write_rejected)
from .shares import LandShares, land_shares, largest_remainder, linear_quality_weights

__all__ = [
    "HEADINGS_ZH", "MODE_ZH", "in_force", "zh_headings",
    "OperationBlocks", "adjacency_positions", "block_summary", "farmland_adjacency",
    "operation_blocks",
    "parcel_transfer_state", "progress_by_year", "transfer_progress",
    "TransferProposal", "transfer_proposals",
    "TransferImport", "apply_transfer_records", "read_transfer_records", "records_from_farmland",
    "write_rejected",
    "LandShares", "land_shares", "largest_remainder", "linear_quality_weights",
]
