"""dedup: turn scraped web text into clean, canonical text.

>>> from dedup import clean_text
>>> page = "We use cookies. Accept all\\nThe council approved the budget on Monday evening.\\n"
>>> clean_text(page)
'The council approved the budget on Monday evening.\\n'
"""

from .config import BoilerplateConfig, Config, LSHConfig, NormConfig, ShingleConfig
from .errors import ConfigError, DedupError, InputError, OutputError
from .options import RunOptions
from .pipeline import Cleaner, CleanResult, clean_text
from .stats import Stats
from .types import Document, Match, Paragraph, Verdict

__version__ = "0.1.0"

__all__ = [
    "BoilerplateConfig",
    "CleanResult",
    "Cleaner",
    "Config",
    "ConfigError",
    "DedupError",
    "Document",
    "InputError",
    "LSHConfig",
    "Match",
    "NormConfig",
    "OutputError",
    "Paragraph",
    "RunOptions",
    "ShingleConfig",
    "Stats",
    "Verdict",
    "__version__",
    "clean_text",
]
