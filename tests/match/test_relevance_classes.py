"""Classes of error seen on real articles, each guarded by real text from the labelled corpus
(tests/data/relevance/corpus.jsonl): the matcher with the bundled relevance model gives exactly
the annotators' verdict per topic (substantive / passing / not mentioned) and exactly their
tracked actors. And every actor added for these topics is found in real text that names them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.match import Lexicon, Matcher, load_relevance_model
from monitor.match.evaluate import LabelledArticle, load_corpus

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "data" / "relevance" / "corpus.jsonl"
TOPICS = ("nato", "ukraine", "us_russia")

CLASSES = {
    "cooccurrence_only": [
        "https://www.channelnewsasia.com/news/sport/tennis-fourth-seed-medvedev-outlasts-tiafoe-to-advance-in-12297176",
        "https://www.rt.com/sport/478783-daniil-medvedev-australian-open/",
        "https://aceh.tribunnews.com/2022/06/19/tuan-rumah-habis-di-indonesia-open-2022",
    ],
    "currency_as": [
        "https://aktual.com/?p=683946",
        "https://antaranews.com/berita/3072477/rubel-rusia-tergelincir-dari-dekat-tertinggi-4-minggu-terhadap-dolar",
        "https://economy.okezone.com/read/2018/02/05/278/1854735/rupiah-melemah-dekati-rp13-500-usd-mengekor-anjloknya-ihsg",
    ],
    "hard_negative": [
        "http://www.bbc.co.uk/news/uk-25688136?postId=118391474",
        "http://www.itv.com/news/story/2014-01-11/new-army-recruitment-campaign-launched/",
        "https://au.news.yahoo.com/hilary-benn-appointed-northern-ireland-174804543.html",
    ],
    "namesake": [
        "https://communityimpact.com/austin/central-austin/city-county/2021/11/23/austin-city-hall-notebook-council-set-for-dive-into-housing-development-after-thanksgiving-break/",
        "https://en.sputniknews.africa/20240612/jury-reaches-verdict-in-hunter-biden-firearm-trial-court-official-says-1067009298.html",
        "https://okmagazine.com/p/melania-trump-release-first-memoir-fall/",
    ],
    "nationality": [
        "https://pledgetimes.com/the-first-seed-bids-farewell-to-wimbledon-in-front-of-76/",
        "https://www.channelnewsasia.com/news/sport/tennis-fourth-seed-medvedev-outlasts-tiafoe-to-advance-in-12297176",
        "https://www.chiangraitimes.com/sports/svitolina-in-wimbledon-semifinals/",
    ],
    "nato_alphabet": [
        "https://brad-node.statechannels.org/charlie-foxtrot-alphabet-1606940288.html",
        "https://bobo.grid.id/amp/082069211/digunakan-di-militer-dan-radio-apa-kamu-pernah-dengar-alfabet-fonetik-nato",
    ],
    "related_links": [
        "https://censor.net/en/news/3472449/zelenskyy_signs_decrees_dismissing_zaluzhnyi_and_appointing_syrskyi_in_his_place",
        "https://en.sputniknews.africa/20240612/jury-reaches-verdict-in-hunter-biden-firearm-trial-court-official-says-1067009298.html",
        "https://aceh.tribunnews.com/2022/06/19/tuan-rumah-habis-di-indonesia-open-2022",
    ],
    "role_backref": [
        "https://au.news.yahoo.com/hilary-benn-appointed-northern-ireland-174804543.html",
        "https://bobrtimes.com/basketball-player-brittney-griner-released-from-prison/",
        "https://caliber.az/en/post/ex-nato-chief-stoltenberg-becomes-norway-s-finance-minister",
    ],
    "role_other_person": [
        "http://www.bbc.co.uk/news/uk-25688136?postId=118391474",
        "http://www.itv.com/news/story/2014-01-11/new-army-recruitment-campaign-launched/",
        "https://au.news.yahoo.com/hilary-benn-appointed-northern-ireland-174804543.html",
    ],
    "surname_after_full": [
        "https://www.republicworld.com/world-news/ukraine/zelenskyy-fires-ukraines-top-military-commander-zaluzhnyi-amid-ongoing-war-with-russia/",
        "https://internasional.republika.co.id/berita/rxmso7472/tak-jelas-soal-keanggotaan-ukraina-zelenskyy-sebut-nato-absurd",
        "https://m.tribunnews.com/internasional/2025/02/19/utusan-trump-untuk-ukraina-tiba-di-kyiv-siap-dengar-keluh-kesah-zelensky",
    ],
    "transliteration": [
        "https://babab.net/artikel/lavrov-rubio-meeting-in-kl-being-finalised-says-russian-foreign-ministry.html",
        "https://caliber.az/en/post/ex-nato-chief-stoltenberg-becomes-norway-s-finance-minister",
        "https://en.vijesti.me/world-a/globus/763819/The-world-is-becoming-increasingly-dangerous--we-are-raising-defense-spending-to-five-percent-of-GDP.",
    ],
    "war_background": [
        "https://enterprise2dayng.com/finland-set-to-join-nato-as-31st-member-on-tuesday-a-game-changing-move-for-european-security",
        "https://oraclenews.ng/finland-joins-nato-as-31st-member/",
        "https://pledgetimes.com/the-first-seed-bids-farewell-to-wimbledon-in-front-of-76/",
    ],
    "war_subject_once": [
        "https://bcbegley.com/2024/02/23/biden-administration-will-impose-sanctions-on-more-than-500-targets-in-response-to-navalny-death",
        "https://menafn.com/1110236022/US-Sanctions-Russias-Rosneft-Lukoil-Oil-Firms",
        "https://kantorinfo.com/pukul-mesin-perang-putin-as-sanksi-dua-raksasa-minyak-rusia-49683.html",
    ],
}
ACTORS = {
    "Scott Bessent": [
        "https://czechrepublictvnews.com/politics/stop-the-killing-us-treasury-hits-rosneft-and-lukoil"
    ],
    "Karoline Leavitt": [
        "https://babeindonesia.com/read/6576755/as-akan-bahas-perjanjian-nuklir-baru-pengganti-new-start-dengan-rusia"
    ],
    "Tammy Bruce": [
        "https://theheraldtoday.com/breaking-news/us-and-russian-teams-reach-istanbul-for-discussions-on-embassies"
    ],
    "Daniel Driscoll": ["https://alinianews.com/?p=8656"],
    "John Ratcliffe": [
        "https://us.headtopics.com/news/marc-fogel-freed-from-russian-prison-after-three-years-65811625"
    ],
    "Mark Milley": [
        "https://www.islamtimes.org/id/news/1063750/media-pemerintah-as-pentagon-akan-menggantikan-kendaraan-lapis-baja-ukraina-yang-hancur"
    ],
    "John Kirby": [
        "https://dunia.tempo.co/read/1605250/as-tambah-bantuan-ke-ukraina-rp-66-t-dari-roket-himars-hingga-ribuan-amunisi"
    ],
    "Colin Kahl": ["https://javafx.news/pentagon-umumkan-bantuan-1-miliar-untuk-ukraina-090822"],
    "Patrick Ryder": [
        "https://voi.id/berita/440891/as-kirim-paket-bantuan-militer-ke-ukraina-senilai-rp15-6-triliun"
    ],
    "James Mattis": [
        "http://internasional.metrotvnews.com/eropa/nbwqYxRK-nato-akan-gelar-latihan-militer-terbesar"
    ],
    "Sonata Coulter": [
        "https://meduza.io/en/news/2025/02/28/u-s-russia-talks-in-istanbul-were-constructive-says-state-department"
    ],
    "Jared Kushner": [
        "https://id.news-front.su/2025/12/03/apa-hasil-pembicaraan-rusia-as-di-kremlin"
    ],
    "Matthew Miller": [
        "https://www.inews.id/news/internasional/sosok-steve-witkoff-utusan-trump-yang-bilang-relokasi-warga-gaza-ke-indonesia-pernah-bentak-tim-netanyahu/2"
    ],
    "Matthew Whitaker": [
        "https://globalnews1810.blogspot.com/2025/06/hegseth-to-skip-ukraine-meeting-at-nato.html"
    ],
    "Kingsley Wilson": [
        "https://globalnews1810.blogspot.com/2025/06/hegseth-to-skip-ukraine-meeting-at-nato.html"
    ],
    "Alexus Grynkewich": [
        "https://m.jpnn.com/news/as-rusia-ukraina-bakal-kembali-bertemu-di-meja-perundingan"
    ],
    "Alexander Darchiev": [
        "https://meduza.io/en/news/2025/02/28/u-s-russia-talks-in-istanbul-were-constructive-says-state-department"
    ],
    "Anton Siluanov": [
        "https://gayaone.com/id/world-events/breaking-news/pertemuan-bersejarah-trump-dan-putin-di-alaska-untuk-membahas-perdamaian-ukraina"
    ],
    "Vladimir Medinsky": [
        "https://citizen.co.za/news/news-world/kremlin-says-nothing-promising-from-russia-ukraine-talks"
    ],
    "Sergei Naryshkin": [
        "https://euromaidanpress.com/2025/04/02/cnn-russian-negotiator-dmitriev-may-visit-washington-this-week"
    ],
    "Igor Kostyukov": [
        "https://m.jpnn.com/news/as-rusia-ukraina-bakal-kembali-bertemu-di-meja-perundingan"
    ],
    "Andrii Hnatov": [
        "https://www.islamtimes.org/en/news/1114976/zelensky-sacks-ukraine-s-commander-in-chief-valerii-zaluzhnyi"
    ],
    "Ihor Klymenko": [
        "https://bisnisupdate.com/luar-negeri/kyiv-diserang-oleh-serangan-rudal-dan-drone-rusia-yang-mematikan/194233"
    ],
    "Kyrylo Budanov": [
        "https://m.jpnn.com/news/as-rusia-ukraina-bakal-kembali-bertemu-di-meja-perundingan"
    ],
    "Sergiy Kyslytsya": [
        "https://m.jpnn.com/news/as-rusia-ukraina-bakal-kembali-bertemu-di-meja-perundingan"
    ],
    "Rob Bauer": [
        "https://rakyatpembaruan.com/nato-umumkan-latihan-militer-terbesar-libatkan-90-ribu-tentara/"
    ],
    "James Foggo": [
        "http://internasional.metrotvnews.com/eropa/nbwqYxRK-nato-akan-gelar-latihan-militer-terbesar"
    ],
    "Allison Hart": [
        "https://www.idntimes.com/news/world/eropa-panas-polandia-serang-drone-rusia-yang-langgar-wilayah-udara-00-84mpg-n6w3dc"
    ],
    "Andrzej Duda": ["https://trt.global/bahasa-indonesia/article/e0e9be5c594e"],
    "Kyriakos Mitsotakis": ["https://trt.global/bahasa-indonesia/article/e0e9be5c594e"],
    "Ruben Brekelmans": [
        "https://www.idntimes.com/news/world/trump-tekankan-komitmen-penuh-as-untuk-nato-c1c2-01-5skvq-35jz39/amp"
    ],
    "Jonas Gahr Støre": [
        "https://caliber.az/en/post/ex-nato-chief-stoltenberg-becomes-norway-s-finance-minister"
    ],
    "Giorgia Meloni": [
        "https://emitennews.com/news/ktt-g20-bali-joe-biden-sampai-xi-jinping-akan-hadir-sayangnya-putin-absen"
    ],
    "Mario Draghi": [
        "https://jabar.antaranews.com/berita/368945/ihsg-bei-diprediksi-melemah-karena-kekhawatiran-konflik-rusia-ukraina"
    ],
    "Pedro Sánchez": [
        "https://www.dutchnews.nl/2025/06/rutte-nato-will-be-stronger-and-fairer-with-5-spending-deal"
    ],
    "Sauli Niinistö": [
        "https://enterprise2dayng.com/finland-set-to-join-nato-as-31st-member-on-tuesday-a-game-changing-move-for-european-security"
    ],
    "Ben Wallace": [
        "https://www.independent.co.uk/news/uk/politics/ben-wallace-defence-armed-forces-gen-z-b2473758.html"
    ],
    "Liz Truss": [
        "https://nielects.com/news/2024/07/05/hilary-benn-is-appointed-secretary-of-state-for-northern-ireland-as-part-of-a-new-uk-government/"
    ],
    "John Healey": ["https://euromaidanpress.com/?p=320456"],
    "Boris Pistorius": [
        "https://globalnews1810.blogspot.com/2025/06/hegseth-to-skip-ukraine-meeting-at-nato.html"
    ],
    "Donald Tusk": [
        "https://internationalmedia.co.id/drone-rusia-serbu-langit-polandia-nato-siaga-satu/"
    ],
    "Karol Nawrocki": [
        "https://www.idntimes.com/news/world/eropa-panas-polandia-serang-drone-rusia-yang-langgar-wilayah-udara-00-84mpg-n6w3dc"
    ],
}


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(Lexicon.load(ROOT / "config"), load_relevance_model("bundled"))


@pytest.fixture(scope="module")
def corpus() -> dict[str, LabelledArticle]:
    return {a.url: a for a in load_corpus([CORPUS])}


def _noon(a: LabelledArticle) -> datetime:
    return datetime(a.published.year, a.published.month, a.published.day, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("tag", "url"), [(tag, url) for tag, urls in CLASSES.items() for url in urls]
)
def test_real_article_of_each_error_class_gets_the_annotators_verdict(
    matcher: Matcher, corpus: dict[str, LabelledArticle], tag: str, url: str
) -> None:
    article = corpus[url]
    assert tag in article.tags
    result = matcher.match(article.title, article.text, _noon(article))
    got = {t.name: "substantive" if t.substantive else "passing" for t in result.topics}
    assert {t: got.get(t, "none") for t in TOPICS} == article.topics
    assert {a.name for a in result.actors} == article.actors


@pytest.mark.parametrize(("name", "urls"), ACTORS.items())
def test_every_added_actor_is_found_in_real_text_naming_them(
    matcher: Matcher, corpus: dict[str, LabelledArticle], name: str, urls: list[str]
) -> None:
    assert urls, f"no corpus article names {name}"
    for url in urls:
        article = corpus[url]
        assert name in article.actors
        result = matcher.match(article.title, article.text, _noon(article))
        assert name in {a.name for a in result.actors}, url
