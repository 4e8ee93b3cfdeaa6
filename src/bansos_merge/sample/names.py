"""Synthetic Indonesian names from real naming traditions, drawn vectorised and Zipf-weighted.

Pools are ordered from most to least common, so a Zipf draw makes SITI AMINAH, MUHAMMAD RIZKI
or SUPARMAN repeat inside one village the way they do in real registers. Every full name is a
random combination of common name parts: no real person's data is used.
"""

from __future__ import annotations

import numpy as np

TRADITIONS = ("javanese", "muslim", "sundanese", "batak", "minang", "balinese", "chinese", "christian")

RELIGION = {
    "javanese": (("ISLAM", "KRISTEN", "KATHOLIK"), (0.93, 0.04, 0.03)),
    "muslim": (("ISLAM",), (1.0,)),
    "sundanese": (("ISLAM",), (1.0,)),
    "batak": (("KRISTEN", "ISLAM", "KATHOLIK"), (0.6, 0.3, 0.1)),
    "minang": (("ISLAM",), (1.0,)),
    "balinese": (("HINDU",), (1.0,)),
    "chinese": (("BUDHA", "KRISTEN", "KATHOLIK", "KONGHUCU"), (0.4, 0.3, 0.2, 0.1)),
    "christian": (("KRISTEN", "KATHOLIK"), (0.55, 0.45)),
}

# Province code -> tradition weights. Provinces not listed use DEFAULT_MIX.
_MIX = {
    "11": {"muslim": 0.9, "javanese": 0.08, "batak": 0.02},
    "12": {"batak": 0.5, "muslim": 0.25, "javanese": 0.12, "chinese": 0.07, "christian": 0.06},
    "13": {"minang": 0.85, "muslim": 0.1, "javanese": 0.05},
    "31": {"muslim": 0.38, "javanese": 0.2, "sundanese": 0.14, "batak": 0.08, "chinese": 0.1,
           "christian": 0.06, "minang": 0.04},
    "32": {"sundanese": 0.68, "muslim": 0.22, "javanese": 0.06, "chinese": 0.02, "christian": 0.02},
    "36": {"sundanese": 0.55, "muslim": 0.35, "javanese": 0.06, "chinese": 0.04},
    "33": {"javanese": 0.68, "muslim": 0.27, "chinese": 0.03, "christian": 0.02},
    "34": {"javanese": 0.7, "muslim": 0.22, "christian": 0.06, "chinese": 0.02},
    "35": {"javanese": 0.66, "muslim": 0.3, "chinese": 0.02, "christian": 0.02},
    "51": {"balinese": 0.86, "muslim": 0.08, "javanese": 0.06},
    "52": {"muslim": 0.92, "balinese": 0.05, "javanese": 0.03},
    "53": {"christian": 0.86, "muslim": 0.14},
    "71": {"christian": 0.7, "muslim": 0.3},
    "81": {"christian": 0.5, "muslim": 0.5},
    "82": {"muslim": 0.75, "christian": 0.25},
}
_REGIONAL = {
    **dict.fromkeys(("14", "15", "16", "17", "18", "19", "21"),
                    {"muslim": 0.5, "javanese": 0.25, "minang": 0.1, "batak": 0.05, "chinese": 0.06,
                     "sundanese": 0.04}),
    **dict.fromkeys(("61", "62", "63", "64", "65"),
                    {"muslim": 0.55, "javanese": 0.2, "christian": 0.14, "chinese": 0.08, "batak": 0.03}),
    **dict.fromkeys(("72", "73", "74", "75", "76"), {"muslim": 0.7, "christian": 0.22, "javanese": 0.08}),
    **dict.fromkeys(("91", "92", "93", "94", "95", "96", "97"),
                    {"christian": 0.75, "muslim": 0.13, "javanese": 0.12}),
}
DEFAULT_MIX = {"muslim": 0.55, "javanese": 0.25, "christian": 0.1, "chinese": 0.05, "sundanese": 0.05}
# Where BIN/BINTI is common (Aceh, Malay Sumatra, Kalimantan): multiplier on the rate.
BIN_BINTI_BOOST = {"11": 4.0, "14": 3.0, "21": 3.0, "61": 3.0, "16": 2.0, "15": 2.0, "63": 2.0}
# Traditions where a father-initial suffix (MAWARDI.Z) is common.
FATHER_INITIAL_TRADITIONS = ("minang", "muslim", "batak")


def tradition_mix(province: str) -> tuple[tuple[str, ...], np.ndarray]:
    mix = _MIX.get(province) or _REGIONAL.get(province) or DEFAULT_MIX
    names = tuple(mix)
    p = np.array([mix[t] for t in names], dtype=float)
    return names, p / p.sum()


def _a(words: str) -> np.ndarray:
    """A pool from a '|'-separated string (multi-word entries allowed)."""
    return np.array([w.strip() for w in words.split("|") if w.strip()], dtype=object)


# ---- pools, most common first ------------------------------------------------------------

JAVA_SINGLE_M = _a(
    "SUPARMAN|SUGIYANTO|SLAMET|SUTRISNO|SUYANTO|SUPRIYADI|SUKIMAN|SUMARNO|SUWARNO|BAMBANG|JOKO|PARNO|"
    "SARDI|WAGIMAN|TUKIMAN|PAIMAN|KASIMAN|SUDARSONO|SUHARTO|SUNARDI|SUPRAPTO|SUKARDI|MUJIONO|SURATMAN|"
    "SUKIRNO|PURWANTO|SUJARWO|KARSO|SAMIJAN|WARSITO|SUPANGAT|MARJUKI|SISWANTO|SUHADI|RUSMAN|TARMIJI|"
    "SUKARJO|SUROSO|PONIMAN|SAMINO"
)
JAVA_SINGLE_F = _a(
    "SUMARNI|SUPARMI|WARSINAH|SUKINEM|PAINEM|SUMIATI|TUMINAH|JUMINAH|SARINEM|SUPARTI|SUWARNI|SUMINI|"
    "MARYATI|SUPINAH|KASMINAH|SUKARSIH|WAGINEM|SUYATMI|SUMIYATI|PONIYEM|SITI|RUKIYAH|SUTINAH|KATMI|"
    "SUMIRAH|SUPIYAH|SARMI|TUGIYEM|LASMI|WARTINI"
)
JAVA_FIRST_M = _a(
    "EKO|AGUS|BUDI|DWI|ADI|TRI|BAYU|DIDIK|HERU|WAHYU|ANDRI|ARIF|DANI|IMAM|TEGUH|HARI|BAGUS|DIMAS|"
    "ANTON|YUDI|SIGIT|GALIH|RUDI|TONI|ARIS|BENI|FAJAR|GILANG|RIZAL|ILHAM"
)
JAVA_FIRST_F = _a(
    "SRI|DWI|TRI|DEWI|RINA|ENDANG|YULI|WAHYU|PUJI|RETNO|INDAH|TITIK|ERNA|EKA|NINIK|ANIK|WIWIK|"
    "LILIK|SETYO|ARI|DIAH|FITRI|NOVI|ISTI|RATNA|YUNI|TUTIK|ESTI|WINDA|RINI"
)
JAVA_SECOND_M = _a(
    "PRASETYO|SANTOSO|WIBOWO|SUSANTO|SETIAWAN|NUGROHO|HIDAYAT|KURNIAWAN|PURNOMO|SAPUTRO|WIJAYANTO|"
    "PRABOWO|SULISTYO|HARTONO|WAHYUDI|SUSILO|HARYANTO|SUPRIYANTO|RAHARJO|UTOMO|FIRMANSYAH|"
    "CAHYONO|SETYAWAN|WICAKSONO|PAMUNGKAS|ARDIANSYAH|GUNAWAN|PRATAMA|SAPUTRA|MULYONO"
)
JAVA_SECOND_F = _a(
    "LESTARI|WAHYUNI|RAHAYU|HANDAYANI|WULANDARI|SUSANTI|ASTUTI|PURWANTI|KURNIASIH|NINGSIH|UTAMI|"
    "YULIANTI|SETYOWATI|SULISTYOWATI|RAHMAWATI|SURYANI|PUJIASTUTI|MULYANI|WIDAYATI|HARTATI|"
    "NURHAYATI|SAFITRI|PERTIWI|ANGGRAENI|KUSUMAWATI|LISTYORINI|PRATIWI|HASTUTI|SUPRAPTI|INDRIYANI"
)
MUSLIM_FIRST_M = _a(
    "MUHAMMAD|AHMAD|ABDUL|NUR|RIZKI|MOCHAMAD|MUHAMAD|ALI|HASAN|FAJAR|ILHAM|IMAM|ARIF|ZAINAL|"
    "SYAIFUL|KHOIRUL|ANDI|RAHMAT|HENDRA|ABDUL ROHMAN|FAHMI|IRFAN|LUKMAN|JUNAIDI|SAIFUL|"
    "RUSDI|USMAN|MA'RUF|JUM'AT|YUSUF"
)
MUSLIM_SECOND_M = _a(
    "RIZKI|FAUZI|HIDAYAT|RAMADHAN|IQBAL|FIRMANSYAH|SYAHPUTRA|HASAN|HUSEIN|ALI|YUSUF|ISMAIL|IBRAHIM|"
    "ARIFIN|SYAIFULLAH|ANWAR|ZAINUDDIN|FAHRI|HAFIZ|MAULANA|HAKIM|RAHMAN|RASYID|AZIZ|KHOLIL|"
    "MUSTOFA|SOLEH|NAJIB|ZAKARIA|NU'MAN|AKBAR|ILHAMI|JAMALUDDIN|FADLI|KURNIAWAN"
)
MUSLIM_FIRST_F = _a(
    "SITI|NUR|NURUL|DEWI|FITRI|AISYAH|FATIMAH|ANI|SRI|NENG|RINA|LAILA|UMI|NOVI|YULIA|"
    "DIAN|EVI|HASANAH|MASITOH|ROSITA|SARAH|ZAHRA|ISTIQOMAH|KHOIRUNNISA|MAR'ATUS|NAILA|ROFIAH|"
    "SALMA|HALIMAH|MAYA"
)
MUSLIM_SECOND_F = _a(
    "AMINAH|AISYAH|FATIMAH|KHADIJAH|NURHAYATI|MARYAM|ZAHRA|ROHMAH|SA'ADAH|NI'MAH|HALIMAH|"
    "MAEMUNAH|ZULAIKHA|RAHMAWATI|SOLEHAH|MUSLIMAH|NURJANAH|HIDAYAH|FAUZIAH|KOMARIAH|MUNAWAROH|"
    "ROHANI|SYAFITRI|NURLAELA|HAMIDAH|SALAMAH|JUBAEDAH|KHOTIJAH|MARDIYAH|ZAENAB|ULFA|AZIZAH"
)
SUNDA_FIRST_M = _a(
    "ASEP|DEDE|UJANG|CECEP|DADANG|YAYAN|IWAN|ENDANG|AGUS|DEDI|JAJANG|ATANG|OTONG|ENCEP|"
    "DENI|HENDRA|AEP|UDIN|OJAK|EMAN|ADE|KOKO|MAMAN|ENDIN|WAWAN|YOYO|EUJANG|OMAN|ENJANG|ACENG"
)
SUNDA_FIRST_F = _a(
    "ENENG|EUIS|IIS|NENG|ENTIN|CUCU|EMA|YATI|ELIS|DEDEH|NENDEN|TITIN|YAYAH|ENOK|DEDE|"
    "IMAS|NINING|LILIS|EMI|ENOH|OOM|ENUNG|ROSSY|ANI|ICIH|EPON|EDAH|IPAH|ENDAH|TUTI"
)
SUNDA_SECOND_M = _a(
    "SUNARYA|HIDAYAT|SURYANA|SOPIAN|SAEPUL|KUSNADI|MULYANA|SUHERMAN|RUSTANDI|SETIAWAN|HERMAWAN|"
    "PERMANA|SAPUTRA|SUHENDAR|KURNIA|RUHIYAT|SOLIHIN|NURDIN|HAMDANI|SUPRIATNA|KOSASIH|"
    "RAHMAT|JUHANA|SUKMANA|SUTISNA"
)
SUNDA_SECOND_F = _a(
    "SUMARNI|NURHASANAH|ROHAETI|KURNIASIH|SETIAWATI|RAHMAWATI|MARLINA|KOMALASARI|SUKAESIH|"
    "NURAENI|HERLINA|MULYATI|ROSMIATI|SUNARSIH|WIDIANINGSIH|SUSILAWATI|JUBAEDAH|KARTIKA|"
    "NURLELA|YULIANTI|ROSITA|HASANAH|PERMATASARI|NURJANAH|AISAH"
)
BATAK_GIVEN_M = _a(
    "TUMPAL|PARLINDUNGAN|HOTMAN|SAHAT|POLTAK|BINSAR|MANGATUR|TORANG|ROY|ANDREAS|JOHANNES|DANIEL|"
    "ROBERT|MARTIN|DAVID|JONI|RICARDO|BONAR|HOTLAN|MARULI|PARULIAN|RAJA|HERMAN|SARMAN|BISMAR|"
    "AHMAD|ZULKARNAEN|RIDWAN|SYAHRIL|MUHAMMAD"
)
BATAK_GIVEN_F = _a(
    "ROSMA|MARIANI|HOTMAIDA|TIURMA|RUGUN|LINDA|MERY|SARI|DAME|ROSLINA|NURHAYATI|ROMAULI|"
    "DUMARIA|LAMRIA|MASTIUR|RATNA|YOHANA|ELFRIDA|TETTY|SRI|ROSDIANA|MARTA|LESTARI|HERLINA|ERNA"
)
MARGA = _a(
    "SIMANJUNTAK|NASUTION|SIREGAR|HUTAGALUNG|SITUMORANG|LUBIS|HARAHAP|PANJAITAN|SINAGA|SIHOMBING|"
    "SIMATUPANG|PASARIBU|TAMBUNAN|MANURUNG|SIAHAAN|NAPITUPULU|SITOMPUL|GINTING|TARIGAN|SEMBIRING|"
    "SARAGIH|PURBA|DAMANIK|HUTAPEA|SIMAMORA|SIANTURI|SIBURIAN|SIMBOLON|POHAN|RANGKUTI"
)
MINANG_SINGLE_M = _a(
    "AFRIZAL|ZULKIFLI|SYAFRIZAL|DESRIZAL|YUSRIZAL|MAWARDI|SYAMSUL BAHRI|ZAINUDDIN|ANDRIZAL|"
    "FAISAL|NASRUL|EFENDI|MASRIL|ERIZAL|JASMAN|ZULFAHMI|HENDRI|ALFIAN|RIDWAN|YULIZAR|SYAFRUDDIN|"
    "AMIRUDDIN|JONI|ASRUL|ZAINAL ABIDIN|DARMAWAN|ROSMAN|BUSTAMI|KHAIRUL|SAIFUL"
)
MINANG_SINGLE_F = _a(
    "ERNAWATI|YULIANTI|ELFIRA|NURHAYATI|ROSMAWATI|YUSNIMAR|ASNIDAR|DESMAWATI|ELMIATI|YENI|"
    "NURBAITI|ROSNIDAR|ZURAIDA|YUSNIDAR|ELVI|MARNIS|RAHMI|WIRDA|YUNIDAR|ERLINDA|ASMANIDAR|"
    "FITRI|SUSI|NELI|DARNIS"
)
MINANG_SECOND = _a("PUTRA|PUTRI|SYAHPUTRA|HIDAYAT|SAPUTRA|RAHMAN|MULYADI|EFENDI|SUSANTI|WATI")
BALI_ORDER = (
    _a("WAYAN|PUTU|GEDE"),
    _a("MADE|KADEK|NENGAH"),
    _a("NYOMAN|KOMANG"),
    _a("KETUT"),
)
BALI_GIVEN_M = _a(
    "SUDARMA|ARTAWAN|WIRAWAN|SUARDANA|PUTRA|ADNYANA|MERTA|SUARTHA|ARSANA|SUKADANA|DARMAWAN|"
    "SUDIARTA|ASTAWA|WIDIADA|SUJANA|MULIARTA|SUWENDRA|KARIASA|ARDIKA|PARWATA|SUPARTA|WIRATA"
)
BALI_GIVEN_F = _a(
    "ARTINI|SUARNI|KARTINI|SURYANI|WIDIASTUTI|SUMERTI|ARIANI|PUSPAWATI|SRI ARTINI|SUDARMI|"
    "MURNI|SUKARMI|RAI|SURATNI|WIDIANI|ASTITI|SUCIATI|SUASTINI|ARYANI|MARIANI|DEWI|SUWARNI"
)
CHINESE_GIVEN_M = _a(
    "HENDRA|BUDI|FELIX|WILLIAM|KEVIN|STEVEN|ANDI|JOHAN|HARTONO|RUDY|SUSANTO|HERMAN|ALBERT|"
    "ERIC|TONNY|WILLY|SUGIANTO|DJOHAN|FERRY|HENDRIK|IWAN|LIMAN|SANTOSO|VINCENT|JIMMY"
)
CHINESE_GIVEN_F = _a(
    "LINDA|SUSAN|JESSICA|MELIANA|LILY|WATI|YENNY|MEILINDA|LISA|FENNY|SHINTA|LIANA|DEWI|"
    "SILVIA|CYNTHIA|MONICA|NOVITA|IRENE|VIVI|HELEN|ANITA|SRI|LUCY|MEGAWATI|INDAH"
)
CHINESE_FAMILY = _a(
    "WIJAYA|GUNAWAN|SANTOSO|HALIM|KUSUMA|SETIAWAN|HARTONO|SALIM|LIMANTO|TANJAYA|SUSANTO|TANUWIJAYA|"
    "LIMAN|HALIMAN|SUGIARTO|WIDJAJA|TANDIO|KOSASIH|SETIADI|LIONARDI"
)
CHINESE_CLAN = _a("TAN|LIE|LIM|ONG|GO|KWEE|THE|OEY|TJHIN|LAUW|HO|LIAUW|NG|SIE|KHO|YAP|WONG|CHANDRA")
CHINESE_SYLLABLE = _a(
    "HOK|LIANG|SIAU|HWA|BOEN|KIM|MEI|LAN|SIOE|TJOEN|HONG|KIAT|SENG|TJIE|LING|GIOK|HAN|BING|"
    "SWIE|TIONG|KWAN|JIN|HOA|IN|NIO|LIAN"
)
CHRISTIAN_GIVEN_M = _a(
    "YOHANES|PETRUS|PAULUS|YOSEPH|FRANSISKUS|AGUSTINUS|ANTONIUS|STEFANUS|MARKUS|LUKAS|MATIUS|"
    "ANDREAS|ANDRE|YAKOBUS|SIMON|DANIEL|MIKAEL|YULIUS|BERNARDUS|DOMINIKUS|YOSUA|ELIAS|TOMAS|"
    "FILIPUS|KORNELIS|ALEKSANDER|HENDRIKUS|RENE|MARTINUS|NIKOLAS"
)
CHRISTIAN_GIVEN_F = _a(
    "MARIA|MARTHA|ELISABETH|MAGDALENA|THERESIA|VERONIKA|KATARINA|AGNES|YOHANA|MARIANA|FRANSISKA|"
    "LUSIA|MONIKA|CHRISTINA|DEBORA|RUTH|YULIANA|SELVIANA|ESTER|NATALIA|REGINA|PAULINA|ANASTASIA|"
    "ROSALIA|YOSEPHINA|MARSELINA|FLORA|HELENA|SISILIA|ANGELINA"
)
CHRISTIAN_SECOND = _a(
    "SETIAWAN|SANTOSO|WIBOWO|KURNIAWAN|SUSANTO|GUNAWAN|PRATAMA|HARTONO|NUGROHO|WIJAYA|"
    "SAPUTRA|PUTRI|LESTARI|WATI|RAHAYU|DEWI|SARI|KRISTIANTO|PRASETYO|HANDOKO"
)
# Family names of eastern Indonesia (Maluku, NTT, Papua, North Sulawesi): passed father to child.
EASTERN_FAMILY = _a(
    "PATTIASINA|LATUHERU|SAHETAPY|TUANAKOTTA|RUMBIAK|KAFIAR|WENDA|KOGOYA|TABUNI|MANOPPO|LUMENTUT|"
    "RUNTUWENE|TUMBELAKA|DA COSTA|DA SILVA|FERNANDEZ|BEREK|LAKA|TEFA|NENOBAIS|SERAN|MOTE|PIGAI|"
    "WAROMI|RUMAROPEN|NDIKEN|GEBZE|LEKI|FOES|BANUNAEK"
)
# A male first name that can follow BIN/BINTI, or be a father's name for an initial.
FATHER_POOL = np.concatenate([JAVA_SINGLE_M[:15], MUSLIM_SECOND_M[:15], MINANG_SINGLE_M[:10]])


def zipf_weights(n: int, s: float = 1.0) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1, dtype=float) ** s
    return w / w.sum()


def zipf_pick(rng: np.random.Generator, pool: np.ndarray, n: int, s: float = 1.0) -> np.ndarray:
    """n draws from `pool` (most common first) with Zipf-like weights."""
    if n == 0:
        return np.empty(0, dtype=object)
    return pool[rng.choice(len(pool), size=n, p=zipf_weights(len(pool), s))]


def _join(*parts: np.ndarray) -> np.ndarray:
    """Element-wise ' '.join of object arrays, skipping empty strings."""
    out = parts[0].astype(object)
    for p in parts[1:]:
        p = p.astype(object)
        sep = np.where((out != "") & (p != ""), " ", "")
        out = out + sep.astype(object) + p
    return out


def _by_sex(rng, female: np.ndarray, pool_m: np.ndarray, pool_f: np.ndarray, s: float = 1.0) -> np.ndarray:
    out = np.empty(len(female), dtype=object)
    out[~female] = zipf_pick(rng, pool_m, int((~female).sum()), s)
    out[female] = zipf_pick(rng, pool_f, int(female.sum()), s)
    return out


def family_names(rng: np.random.Generator, tradition: str, n: int, eastern: np.ndarray | None = None) -> np.ndarray:
    """Household-level family names passed from father to children ('' where the tradition has none)."""
    if tradition == "batak":
        return zipf_pick(rng, MARGA, n, 0.6)
    if tradition == "chinese":
        return zipf_pick(rng, CHINESE_FAMILY, n, 0.8)
    if tradition == "christian" and eastern is not None:
        fam = zipf_pick(rng, EASTERN_FAMILY, n, 0.5)
        return np.where(eastern, fam, "").astype(object)
    return np.full(n, "", dtype=object)


def chinese_clan(rng: np.random.Generator, n: int) -> np.ndarray:
    return zipf_pick(rng, CHINESE_CLAN, n, 0.8)


def given_names(
    rng: np.random.Generator,
    tradition: str,
    female: np.ndarray,
    birth_year: np.ndarray,
    birth_order: np.ndarray,
    family: np.ndarray,
) -> np.ndarray:
    """Full names for people of one tradition (vectorised).

    `birth_order` (1 = first-born) drives Balinese names; `family` is the inherited family name
    (Batak marga, Chinese-Indonesian surname, eastern family name) or ''.
    """
    n = len(female)
    r = rng.random(n)
    empty = np.full(n, "", dtype=object)
    if tradition == "javanese":
        single = _by_sex(rng, female, JAVA_SINGLE_M, JAVA_SINGLE_F)
        two = _join(_by_sex(rng, female, JAVA_FIRST_M, JAVA_FIRST_F), _by_sex(rng, female, JAVA_SECOND_M, JAVA_SECOND_F))
        is_single = np.where(birth_year < 1975, r < 0.7, r < 0.15)
        return np.where(is_single, single, two)
    if tradition == "muslim":
        first = _by_sex(rng, female, MUSLIM_FIRST_M, MUSLIM_FIRST_F, 0.9)
        second = _by_sex(rng, female, MUSLIM_SECOND_M, MUSLIM_SECOND_F)
        third = np.where(rng.random(n) < 0.15, _by_sex(rng, female, MUSLIM_SECOND_M, MUSLIM_SECOND_F), "")
        third = np.where(third == second, "", third)
        return _join(first, second, third)
    if tradition == "sundanese":
        first = _by_sex(rng, female, SUNDA_FIRST_M, SUNDA_FIRST_F)
        second = np.where(r < 0.6, _by_sex(rng, female, SUNDA_SECOND_M, SUNDA_SECOND_F), "")
        return _join(first, second)
    if tradition == "batak":
        given = _by_sex(rng, female, BATAK_GIVEN_M, BATAK_GIVEN_F)
        fam = np.where(family == "", zipf_pick(rng, MARGA, n, 0.6), family)
        fam = np.where(female, "BR. " + fam.astype(object), fam).astype(object)
        return _join(given, fam)
    if tradition == "minang":
        single = _by_sex(rng, female, MINANG_SINGLE_M, MINANG_SINGLE_F)
        second = zipf_pick(rng, MINANG_SECOND, n)
        second = np.where(female & np.isin(second, ["PUTRA", "SYAHPUTRA", "SAPUTRA"]), "PUTRI", second)
        second = np.where(~female & np.isin(second, ["PUTRI", "SUSANTI", "WATI"]), "PUTRA", second)
        return np.where((birth_year >= 1980) & (r < 0.5), _join(single, second), single)
    if tradition == "balinese":
        order = (np.clip(birth_order, 1, None) - 1) % 4
        order_name = empty.copy()
        for k, pool in enumerate(BALI_ORDER):
            sel = order == k
            order_name[sel] = zipf_pick(rng, pool, int(sel.sum()), 0.7)
        prefix = np.where(female, "NI", "I").astype(object)
        caste = rng.random(n)
        prefix = np.where(caste < 0.03, np.where(female, "IDA AYU", "IDA BAGUS"), prefix)
        prefix = np.where((caste >= 0.03) & (caste < 0.08), np.where(female, "I GUSTI AYU", "I GUSTI NGURAH"), prefix)
        # Gusti and Ida names usually drop the birth-order name.
        order_name = np.where(caste < 0.08, "", order_name)
        return _join(prefix.astype(object), order_name, _by_sex(rng, female, BALI_GIVEN_M, BALI_GIVEN_F))
    if tradition == "chinese":
        given = _by_sex(rng, female, CHINESE_GIVEN_M, CHINESE_GIVEN_F)
        fam = np.where(family == "", zipf_pick(rng, CHINESE_FAMILY, n, 0.8), family)
        return np.where(r < 0.8, _join(given, fam), given)
    if tradition == "christian":
        given = _by_sex(rng, female, CHRISTIAN_GIVEN_M, CHRISTIAN_GIVEN_F)
        second = np.where(family != "", family, zipf_pick(rng, CHRISTIAN_SECOND, n))
        second = np.where((family == "") & (r < 0.25), "", second)
        return _join(given, second)
    raise ValueError(f"unknown tradition {tradition!r}")


def chinese_alt_names(rng: np.random.Generator, clan: np.ndarray) -> np.ndarray:
    """A Chinese name (TAN HOK LIANG) for Chinese-Indonesian people who carry two names."""
    n = len(clan)
    return _join(clan, zipf_pick(rng, CHINESE_SYLLABLE, n, 0.5), zipf_pick(rng, CHINESE_SYLLABLE, n, 0.5))


def first_token(names: np.ndarray) -> np.ndarray:
    """The first word of each name, skipping Balinese prefixes and MUHAMMAD-like first names."""
    import pandas as pd

    s = pd.Series(names, dtype=object).str.replace(r"^(?:I|NI|I GUSTI \w+|IDA \w+)\s+", "", regex=True)
    s = s.str.replace(r"^(?:MUHAMMAD|MUHAMAD|MOCHAMAD|AHMAD|ABDUL|NUR|SITI)\s+(?=\S)", "", regex=True)
    return s.str.split(" ", n=1).str[0].fillna("").to_numpy(dtype=object)


def last_token(names: np.ndarray) -> np.ndarray:
    import pandas as pd

    return pd.Series(names, dtype=object).str.rsplit(" ", n=1).str[-1].fillna("").to_numpy(dtype=object)
