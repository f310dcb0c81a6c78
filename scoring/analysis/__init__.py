"""After the reveal: rank stability and the capability map of a phase. Pure (numpy/torch,
matplotlib for the pictures); files are returned as bytes, never written here.

    from scoring.analysis import AnalysisOptions, PhaseScores, analyse_phase, analysis_files
    files = analysis_files(analyse_phase(PhaseScores(...), AnalysisOptions()))

Modules (private; import from the package):
    rank_stability   challengeR-style bootstrap rank distributions, Kendall's tau, task agreement
    capability_map   Adorni et al.'s capabilities encoding: gaps, validation, predictions
    embedding_fit    the seeded batched optimiser behind the map, leave-cells-out folds
    phase            PhaseScores -> PhaseAnalysis (both parts, with notes and timings)
    report, figures  JSON, Markdown and PNGs
    errors           InsufficientData
"""

from scoring.analysis.capability_map import (
    MAX_DIMENSION,
    CapabilityMap,
    CellPrediction,
    DimensionError,
    capability_map,
    performance_gaps,
)
from scoring.analysis.errors import InsufficientData
from scoring.analysis.phase import AnalysisOptions, PhaseAnalysis, PhaseScores, analyse_phase
from scoring.analysis.rank_stability import (
    RankDistribution,
    RankStability,
    TauSummary,
    kendall_tau_b,
    rank_stability,
)
from scoring.analysis.report import (
    analysis_files,
    analysis_json,
    analysis_markdown,
    analysis_summary,
    markdown_text,
)

__all__ = [
    "MAX_DIMENSION",
    "AnalysisOptions",
    "CapabilityMap",
    "CellPrediction",
    "DimensionError",
    "InsufficientData",
    "PhaseAnalysis",
    "PhaseScores",
    "RankDistribution",
    "RankStability",
    "TauSummary",
    "analyse_phase",
    "analysis_files",
    "analysis_json",
    "analysis_markdown",
    "analysis_summary",
    "capability_map",
    "kendall_tau_b",
    "markdown_text",
    "performance_gaps",
    "rank_stability",
]
