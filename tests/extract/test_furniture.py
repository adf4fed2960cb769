"""Page furniture that survives extraction is removed before matching; article lines stay."""

from __future__ import annotations

import pytest

from monitor.extract.furniture import strip_furniture

ARTICLE = "Presiden Rusia Vladimir Putin tiba di Beijing, Selasa.\nIa bertemu Xi Jinping."


@pytest.mark.parametrize(
    "line",
    [
        "Baca juga: Putin Ancam Barat soal Rudal Jarak Jauh",
        "BACA JUGA : Zelensky Kunjungi Jakarta",
        "Simak juga: NATO Gelar Latihan di Baltik",
        "Lihat Juga: Video Serangan Drone di Kyiv",
        "Baca Selengkapnya di sini",
        "BACA SELENGKAPNYA DI…",
        "Read also: Russia warns NATO",
        "Sumber gambar : kompas.com",
        "Foto: Presiden Ukraina Volodymyr Zelensky (REUTERS)",
        "Presiden Rusia Vladimir Putin di Kremlin (REUTERS/Sputnik)",
        "NATO Menegaskan Dukungan pada Ukraina (Ilustrasi)",
        "Tags: NATO, Ukraina, Rusia",
        "Editor: Budi",
        "Share This Article",
        "Ad image",
        "ADVERTISEMENT",
        "SCROLL TO CONTINUE WITH CONTENT",
        "https://imgsrv2.voi.id/abc/def.jpg",
        "Copyright @ 2026 Incaberita. All right reserved",
        "4 Min Read",
        "Cobain Baca Artikel Lainnya Seperti: Peta AS Versi Trump Picu Reaksi Global",
        "Eksplorasi lebih dalam Tentang topik:  Global",
    ],
)
def test_a_furniture_line_is_removed_and_the_article_kept(line: str) -> None:
    body = f"{ARTICLE}\n{line}\nPertemuan berlangsung dua jam."
    assert strip_furniture(body) == f"{ARTICLE}\nPertemuan berlangsung dua jam."


def test_headlines_listed_under_a_bare_baca_juga_are_removed() -> None:
    body = "Gol!\nBaca juga:\nPutin Ancam Barat\nTrump Bicara NATO\n\nLaga berakhir 2-1."
    assert strip_furniture(body) == "Gol!\n\nLaga berakhir 2-1."


def test_comment_section_after_leave_a_reply_is_dropped() -> None:
    body = f"{ARTICLE}\nLeave a Reply\nYour email address will not be published.\nPutin fan: wow"
    assert strip_furniture(body) == ARTICLE


@pytest.mark.parametrize(
    "line",
    [
        # sentences, not links or captions
        "Baca juga pernyataan lengkap Sekjen NATO di situs resmi aliansi.",
        "Foto-foto serangan itu beredar luas di media sosial.",
        "Ia mengatakan NATO tidak terlibat langsung, kata Stoltenberg. (Antara)",
        "Tags yang dipakai warganet antara lain soal NATO.",
    ],
)
def test_article_sentences_that_resemble_furniture_are_kept(line: str) -> None:
    body = f"{ARTICLE}\n{line}"
    assert strip_furniture(body) == body


def test_stripping_twice_changes_nothing() -> None:
    body = f"Baca juga:\nA\nB\n{ARTICLE}\nTags: x\n\n\nShare This Article"
    once = strip_furniture(body)
    assert strip_furniture(once) == once
