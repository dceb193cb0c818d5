"""The repeated-article corpus: source articles and boilerplate as data, and a generator that
composes scraped pages from them with gold labels for every line."""

from .generate import GeneratorConfig, generate, write_corpus
from .sources import Article, Library, load_articles, load_library

__all__ = ["Article", "GeneratorConfig", "Library", "generate", "load_articles", "load_library",
           "write_corpus"]
