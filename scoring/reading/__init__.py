"""Reading a participant's submission file: the boundary where untrusted bytes become numbers.

Public names: `read_embedding_file`, `read_embedding_bytes` (reader), `ReadLimits`,
`phase_limits`, `DEFAULT_CEILING` (limits), `SubmissionError`, `UnreadableFile`, `count_text`,
`examples_text` (errors and message helpers), `EmbeddingTable` (table), `embedding_columns`
(header), `NA_STRINGS` (cells), `is_number_text` (problems). Everything else is private to the
package. Reads only the file it is given.

Flow: containers (plain / gzip / zip, decompression capped) -> lines (header, blocks of whole
lines) -> header (column checks, before any row) -> cells (blocks parsed in threads to float32)
-> ids (checks, duplicates, the phase's ids) -> reader (assembly into the final matrix).
"""

from scoring.reading.cells import NA_STRINGS
from scoring.reading.errors import SubmissionError, UnreadableFile, count_text, examples_text
from scoring.reading.header import embedding_columns
from scoring.reading.limits import DEFAULT_CEILING, ReadLimits, phase_limits
from scoring.reading.problems import is_number_text
from scoring.reading.reader import read_embedding_bytes, read_embedding_file
from scoring.reading.table import EmbeddingTable

__all__ = [
    "DEFAULT_CEILING",
    "NA_STRINGS",
    "EmbeddingTable",
    "ReadLimits",
    "SubmissionError",
    "UnreadableFile",
    "count_text",
    "embedding_columns",
    "examples_text",
    "is_number_text",
    "phase_limits",
    "read_embedding_bytes",
    "read_embedding_file",
]
