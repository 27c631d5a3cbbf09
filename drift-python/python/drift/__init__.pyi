"""Type stubs of the package drift (the constructors are generated from the registry)."""

import os
from typing import Any, Callable, List, NamedTuple, Optional, Tuple, Union

def load(spec: Union[str, os.PathLike[str]]) -> Operator:
    """Loads a drift operator from a RON file or from RON text (raises SpecError)."""
    ...

class SpecError(ValueError):
    """A RON specification could not be read, parsed or validated."""
    file: str
    line: int
    column: int
    message: str

class CouplingReport:
    coupling: str
    term: str
    iterations: int
    marginal_error: Optional[float]
    converged: bool
    path: Optional[str]

class PrecisionReport:
    requested: str
    computed: str
    log_weight_scale: float
    weight_error_bound: float
    promoted: bool
    trusted: bool

class Report:
    operator: str
    drift_norm: float
    couplings: List[CouplingReport]
    parts: List[Report]
    precision: Optional[PrecisionReport]
    max_marginal_error: Optional[float]
    total_iterations: int
    converged: bool
    trusted: bool
    promoted: bool

class BatchReport:
    """Diagnostics of one batched evaluation (Operator.apply_batch)."""
    operator: str
    problems: int
    drift_norm: float
    reduction: Optional[str]
    scale: Optional[float]
    temperature_norms: List[Tuple[float, float]]
    parts: List[BatchReport]
    fused: bool
    per_problem: List[Report]
    max_marginal_error: Optional[float]

class Operator:
    """A loaded, validated drift operator; call it as V = op(x, y)."""
    last_report: Optional[Report]
    @property
    def ron(self) -> str: ...
    @property
    def origin(self) -> str: ...
    def __call__(self, x: Any, y: Any, *, x_weights: Any = None, y_weights: Any = None,
                 negatives: Any = None, negative_weight: float = 1.0, step: int = 0,
                 time: float = 0.0) -> Any: ...
    def apply(self, x: Any, y: Any, *, x_weights: Any = None, y_weights: Any = None,
              negatives: Any = None, negative_weight: float = 1.0, step: int = 0,
              time: float = 0.0, split: Optional[str] = None, process_group: Any = None,
              collective: Optional[Callable[[Any], Any]] = None, rank: Optional[int] = None,
              ranks: Optional[int] = None) -> Tuple[Any, Report]: ...
    def apply_batch(self, x: Any, y: Any, *, x_weights: Any = None, y_weights: Any = None,
                    negatives: Any = None, negative_weights: Any = None, step: int = 0,
                    time: float = 0.0, collective: Optional[Callable[[Any], Any]] = None,
                    process_group: Any = None) -> Tuple[Any, BatchReport]: ...

class Ron:
    """RON text inserted as it is into a constructor's arguments."""
    text: str
    def __init__(self, text: str) -> None: ...

class Param(NamedTuple):
    name: str
    type: str
    default: Optional[str]

class Entry(NamedTuple):
    kind: str
    name: str
    summary: str
    params: List[Param]
    params_text: str
    example: str

def entries(kind: Optional[str] = None) -> List[Entry]: ...
def operators() -> List[Entry]: ...
def kernels() -> List[Entry]: ...
def couplings() -> List[Entry]: ...
def weightings() -> List[Entry]: ...

def Annealed(*, operator: Operator, rate: float, clock: Any = ..., min_factor: float = ...) -> Operator:
    """Temperature annealing tau0 exp(-r t) by flow time or step."""
    ...

def CrossMinusSelf(*, attraction: Any, repulsion: Any, mask_self: bool = ..., weighting: Any = ...) -> Operator:
    """Generic cross-minus-self: any kernel and coupling per term, row weighting."""
    ...

def DengAlg2(*, temperature: float, kernel: Any = ..., mask_self: bool = ...) -> Operator:
    """Deng et al. Algorithm 2: joint two-sided normalisation over [Y; X], the paper form."""
    ...

def FDivergence(*, divergence: Any, temperature: float, kernel: Any = ..., mask_self: bool = ...) -> Operator:
    """Wasserstein gradient flow of an f-divergence between Parzen densities."""
    ...

def FeatureScale(*, operator: Operator) -> Operator:
    """Deng feature scale: run on X/S, Y/S with tau sqrt(D), S = mean distance / sqrt(D)."""
    ...

def Guidance(*, operator: Operator, alpha: float) -> Operator:
    """Classifier-free guidance: unconditional negatives join the repulsion with weight (alpha-1)(N-1)/N_unc."""
    ...

def Joint(*, term: Any, mask_self: bool = ..., weighting: Any = ...) -> Operator:
    """Generic joint operator: one coupling of X with [Y; X], blocks weighted by row masses."""
    ...

def Mmd(*, temperature: float, kernel: Any = ...) -> Operator:
    """MMD gradient drift (witness gradient), Gaussian or Laplace kernel."""
    ...

def MultiTemperature(*, operator: Operator, temperatures: Any = ..., normalise: bool = ...) -> Operator:
    """Deng multi-temperature sum of V_tau / lambda_tau (temperatures multiply the inner ones)."""
    ...

def OneSided(*, temperature: float, kernel: Any = ..., mask_self: bool = ...) -> Operator:
    """Deng et al. one-sided drift: row-softmax barycentres, masked repulsion diagonal."""
    ...

def ScoreDifference(*, temperature: float) -> Operator:
    """Score difference of Gaussian Parzen densities, sigma^2 (grad log p - grad log q)."""
    ...

def SinkhornDivergence(*, temperature: float, sinkhorn: Any = ...) -> Operator:
    """Debiased Sinkhorn divergence drift (NSGF velocity), cost |x - y|^2 / 2, epsilon-scaled."""
    ...

def SinkhornDrift(*, temperature: float, kernel: Any = ..., sinkhorn: Any = ...) -> Operator:
    """He et al. Sinkhorn drift: balanced Sinkhorn plans on both terms."""
    ...

def SinkhornK(*, temperature: float, iterations: int, kernel: Any = ...) -> Operator:
    """K Sinkhorn iterations on both terms: one-sided at K = 0, Sinkhorn drift as K grows."""
    ...

def SinkhornProxy(*, temperature: float, kernel: Any = ..., mask_self: bool = ...) -> Operator:
    """Split two-sided Sinkhorn proxy on X x Y and X x X, weighted by row masses."""
    ...

def SlicedWasserstein(*, directions: int = ..., seed: int = ..., resample_each_step: bool = ...) -> Operator:
    """Sliced Wasserstein drift: quantile matching along seeded random directions."""
    ...

def Sum(*, operators: Any) -> Operator:
    """Sum of operators into one buffer."""
    ...

def Weighted(*, terms: Any) -> Operator:
    """Weighted sum of operators into one buffer."""
    ...

