"""The extract stage: an article page into its title, body and dates (trafilatura), with
the portals' furniture lines ("Baca juga:", captions, share bars) removed.
"""

from monitor.extract.article import extract_article
from monitor.extract.furniture import strip_furniture

__all__ = ["extract_article", "strip_furniture"]
