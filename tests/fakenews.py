"""Generated Indonesian-style news articles that mention tracked actors (test and benchmark data).

Each article is distinct enough never to be a near-duplicate of another (random slot fillers in
every sentence), names at least one tracked actor and makes NATO / Ukraine / US–Russia a
substantive topic (named in the title and in several paragraphs), so the default alert rule
fires on every one of them.
"""

from __future__ import annotations

import html
import random
from dataclasses import dataclass

ACTORS = (
    "Vladimir Putin",
    "Jens Stoltenberg",
    "Joe Biden",
    "Volodymyr Zelensky",
    "Mark Rutte",
    "Sergei Lavrov",
    "Antony Blinken",
    "Lloyd Austin",
    "Dmitry Peskov",
    "Donald Trump",
)
TOPIC_WORDS = ("NATO", "Ukraina", "Rusia dan Amerika Serikat")
PLACES = (
    "Brussel",
    "Kyiv",
    "Moskow",
    "Washington",
    "Jenewa",
    "Wina",
    "Helsinki",
    "Warsawa",
    "Riga",
    "Vilnius",
    "Istanbul",
    "Praha",
    "Berlin",
    "Paris",
    "Roma",
    "Madrid",
    "Oslo",
    "Tallinn",
)
VERBS = (
    "mengatakan",
    "menegaskan",
    "membantah",
    "mengumumkan",
    "memperingatkan",
    "menjelaskan",
    "mengakui",
    "menyatakan",
    "menolak",
    "mendesak",
    "menuding",
    "menyambut",
)
OBJECTS = (
    "paket bantuan militer",
    "sanksi ekonomi baru",
    "perundingan gencatan senjata",
    "latihan militer gabungan",
    "pengiriman sistem pertahanan udara",
    "kesepakatan pertukaran tahanan",
    "anggaran pertahanan",
    "perluasan keanggotaan",
    "jalur ekspor gandum",
    "pasokan energi",
    "pemulihan infrastruktur listrik",
    "pengawasan perbatasan",
    "dialog strategis",
)
EXTRA = (
    "para diplomat",
    "sejumlah analis",
    "kantor berita setempat",
    "juru bicara kementerian",
    "pejabat senior",
    "anggota parlemen",
    "pengamat hubungan internasional",
    "wartawan asing",
)


@dataclass(frozen=True)
class FakeArticle:
    slug: str
    title: str
    paragraphs: tuple[str, ...]
    actors: tuple[str, ...]

    @property
    def text(self) -> str:
        """The .txt form replay reads: title line, blank line, paragraphs."""
        return self.title + "\n\n" + "\n\n".join(self.paragraphs) + "\n"

    def html(self, *, charset: str | None = "utf-8") -> str:
        meta = f'<meta charset="{charset}">' if charset else ""
        body = "".join(f"<p>{html.escape(p)}</p>" for p in self.paragraphs)
        return (
            f"<!DOCTYPE html><html lang='id'><head>{meta}<title>{html.escape(self.title)}"
            f"</title></head><body><nav><a href='/'>Beranda</a></nav><article>"
            f"<h1>{html.escape(self.title)}</h1>{body}</article>"
            "<footer>Hak cipta dilindungi undang-undang.</footer></body></html>"
        )


def _sentence(rng: random.Random, actor: str, topic: str) -> str:
    n = rng.randint(2, 9800)
    return (
        f"{actor} {rng.choice(VERBS)} bahwa {rng.choice(OBJECTS)} terkait {topic} akan dibahas "
        f"di {rng.choice(PLACES)} pada pekan ke-{n % 52 + 1}, menurut {rng.choice(EXTRA)} "
        f"yang dikutip dalam laporan nomor {n}."
    )


def fake_article(index: int, *, seed: int = 2024) -> FakeArticle:
    rng = random.Random(seed * 100_003 + index)
    actors = tuple(rng.sample(ACTORS, 2))
    topic = TOPIC_WORDS[index % len(TOPIC_WORDS)]
    title = (
        f"{actors[0]} Bahas {topic} di {rng.choice(PLACES)}: {rng.choice(OBJECTS).title()} "
        f"(Laporan {index})"
    )
    paragraphs = tuple(
        " ".join(_sentence(rng, actors[p % 2], topic) for _ in range(3)) for p in range(4)
    )
    return FakeArticle(f"berita-{index:04d}", title, paragraphs, actors)


def fake_articles(count: int, *, seed: int = 2024) -> list[FakeArticle]:
    return [fake_article(i, seed=seed) for i in range(count)]
