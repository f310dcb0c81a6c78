"""Reading a participant's submission file: the boundary where untrusted bytes become numbers.

Public names: `read_embedding_file`, `read_embedding_bytes` (reader), `ReadLimits`,
`phase_limits` (limits), `SubmissionError`, `UnreadableFile` (errors), `EmbeddingTable`
(table). Everything else is private to the package. Reads only the file it is given.

Flow: containers (plain / gzip / zip, decompression capped) -> lines (header, blocks of whole
lines) -> header (column checks, before any row) -> cells (blocks parsed in threads to float32)
-> ids (checks, duplicates, the phase's ids) -> reader (assembly into the final matrix).
"""

from scoring.reading.errors import SubmissionError, UnreadableFile
from scoring.reading.limits import ReadLimits, phase_limits
from scoring.reading.reader import read_embedding_bytes, read_embedding_file
from scoring.reading.table import EmbeddingTable

__all__ = [
    "EmbeddingTable",
    "ReadLimits",
    "SubmissionError",
    "UnreadableFile",
    "phase_limits",
    "read_embedding_bytes",
    "read_embedding_file",
]
